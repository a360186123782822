import ArgumentParser
import Foundation
import Recommendations

/// `metro-reco-eval`: the recommendations model offline (issue 15).
///
///     metro-reco-eval evaluate Benchmarks/reco-eval/data/planted.csv   # HitRate@10, NDCG@10 vs popularity
///     metro-reco-eval generate --seed 42 > planted.csv                 # the shipped data set
///     metro-reco-eval bench --metro .build-release/release/metro       # recommendations.get under load
///     metro-reco-eval view-cost                                        # a view's cost by history length
@main
struct RecoEval: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metro-reco-eval", abstract: "Evaluate and benchmark the recommendations model.",
        subcommands: [Evaluate.self, Generate.self, RecoBench.self, ViewCost.self], defaultSubcommand: Evaluate.self)
}

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Leave-last-out HitRate@10 and NDCG@10 of the model and of popularity.")

    @Argument(help: "Ratings: user::item::rating::timestamp lines, or CSV userId,movieId,rating,timestamp.")
    var file = "Benchmarks/reco-eval/data/planted.csv"

    @Option(help: "Co-occurrence window (ModelParameters.pairWindow); a large one pairs every video of a user.")
    var pairWindow = ModelParameters.standard.pairWindow

    func run() throws {
        let text = try String(contentsOfFile: file, encoding: .utf8)
        var evaluation = OfflineEvaluation()
        evaluation.parameters.pairWindow = pairWindow
        let report = try evaluation.run(try InteractionFile.parse(text))
        print("file: \(file), pair window \(pairWindow)")
        print(
            "users \(report.users), items \(report.items), training interactions \(report.trainingInteractions), "
                + "test users \(report.testUsers)")
        print("fed in \(fixed(report.feedSeconds, 2)) s, ranked in \(fixed(report.rankSeconds, 2)) s")
        print("")
        print("| ranker | HitRate@\(report.k) | NDCG@\(report.k) |")
        print("|---|---:|---:|")
        print(
            "| model (co-occurrence + tags + popularity) | \(fixed(report.model.hitRate, 4)) | \(fixed(report.model.ndcg, 4)) |"
        )
        print("| popularity baseline | \(fixed(report.popularity.hitRate, 4)) | \(fixed(report.popularity.ndcg, 4)) |")
        let lift = report.popularity.hitRate > 0 ? report.model.hitRate / report.popularity.hitRate : .infinity
        print("| ratio (model / popularity) | \(fixed(lift, 2)) | |")
    }
}

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the planted data set (CSV) to standard output; the defaults make the shipped one.")

    @Option var seed: UInt64 = 42
    @Option var users = 300
    @Option var items = 150
    @Option var clusters = 10
    @Option(help: "Interactions per user.") var perUser = 15

    func run() throws {
        var data = PlantedData()
        data.seed = seed
        data.users = users
        data.items = items
        data.clusters = clusters
        data.perUser = perUser
        print(InteractionFile.csv(data.generate()), terminator: "")
    }
}

func fixed(_ value: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", value) }
