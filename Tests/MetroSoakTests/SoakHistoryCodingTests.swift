import Foundation
import Testing

@testable import MetroSoak

/// The history is written as `history.json` and read back by hand or by tools:
/// its shape must survive a round trip.
@Suite struct SoakHistoryCodingTests {
    @Test func historyRoundTripsThroughJSON() throws {
        var history = SoakHistory(startedAt: Date(timeIntervalSince1970: 1_800_000_000), startSeq: 41)
        history.operations.append(
            SoakOperation(
                kind: .view, startNs: 10, endNs: 2_000_010, outcome: .ok, userId: "u-1", videoId: "v-1",
                eventId: "e-1", seq: 42, via: "broker"))
        history.faults.append(
            SoakFault(
                kind: .kill, target: "video-1", startNs: 5_000_000_000, endNs: 5_000_000_000,
                wholeAgainNs: 6_500_000_000, detail: "pid 1 killed"))
        history.samples.append(ProcessSample(name: "broker", pid: 7, tNs: 1, rssBytes: 1 << 20, cpuSeconds: 0.5))
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let back = try decoder.decode(SoakHistory.self, from: encoder.encode(history))
        #expect(back.operations == history.operations)
        #expect(back.faults == history.faults)
        #expect(back.samples == history.samples)
        #expect(back.startSeq == 41)
        #expect(back.faults[0].recoverySeconds == 1.5)
    }

    @Test func verdictKeepsAtMostFiftyOffendersButCountsAll() {
        let verdict = InvariantVerdict(
            name: "x", statement: "s", holds: false, checked: 100, detail: "d",
            offending: (0..<80).map(String.init), offendingCount: 80)
        #expect(verdict.offending.count == 50)
        #expect(verdict.offendingCount == 80)
    }
}
