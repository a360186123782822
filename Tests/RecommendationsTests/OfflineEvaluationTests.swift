import Foundation
import MetroTestKit
import Testing

@testable import Recommendations

@Suite struct OfflineEvaluationTests {
    /// The data set metro-reco-eval ships, next to its generator's output.
    static let shipped = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Benchmarks/reco-eval/data/planted.csv").standardized

    @Test func theShippedDataSetIsTheGeneratorsOutput() async throws {
        let text = try String(contentsOf: Self.shipped, encoding: .utf8)
        let generated = try await offPool { InteractionFile.csv(PlantedData().generate()) }
        #expect(text == generated)
    }

    @Test func theModelBeatsPopularityOnThePlantedDataSet() async throws {
        let report = try await offPool {
            try OfflineEvaluation().run(InteractionFile.parse(String(contentsOf: Self.shipped, encoding: .utf8)))
        }
        #expect(report.testUsers == 300)
        #expect(report.model.hitRate > report.popularity.hitRate * 1.5)
        #expect(report.model.ndcg > report.popularity.ndcg * 1.5)
    }

    @Test func readsBothMovieLensFormats() throws {
        let dat = try InteractionFile.parse("1::31::2.5::1260759144\n1::1029::3::1260759179\n")
        let csv = try InteractionFile.parse(
            "userId,movieId,rating,timestamp\r\n1,31,2.5,1260759144\r\n1,1029,3,1260759179\r\n")
        #expect(dat == csv)
        #expect(dat[0] == Interaction(user: "1", item: "31", rating: 2.5, timestamp: 1_260_759_144))
        #expect(throws: InteractionFile.ParseError.self) { try InteractionFile.parse("1,2,3\n") }
        #expect(throws: InteractionFile.ParseError.self) { try InteractionFile.parse("1::2::x::4\n") }
    }

    @Test func metricsScoreTheHeldOutItemByRank() {
        var total = (hits: 0, gain: 0.0)
        OfflineEvaluation.score(["a", "b"], "a", into: &total)
        OfflineEvaluation.score(["a", "b"], "b", into: &total)
        OfflineEvaluation.score(["a", "b"], "c", into: &total)
        #expect(total.hits == 2)
        #expect(abs(total.gain - (1 + 1 / log2(3.0))) < 1e-12)
    }
}
