import Foundation
import MetroKit
import MetroProtocol
import MetroTestKit
import Testing

/// The journal scrub (`JournalScrubber`): a record damaged on disk is found in
/// the background, with no reader anywhere near it, and said where an operator
/// looks (the log, STATS `scrub`, `metro_broker_journal_damaged_segments`, which
/// the alert MetroJournalDamaged watches), while a backup may still hold it whole.
extension BrokerSystemTests {
    static let scrubbedConfig =
        "heartbeatIntervalMs: 1000\njournal:\n  fsync: never\n  segmentBytes: 65536\n"
        + "  scrubIntervalSeconds: 1\n  scrubBytesPerSecond: 1073741824\n"

    @Test func theScrubFindsADamagedRecordBeforeAnyReaderDoes() async throws {
        let broker = try await BrokerHarness(config: Self.scrubbedConfig)
        let publisher = try Publisher(.init(ingest: broker.ingest))
        _ = try await closing(publisher) {
            try await publishMany(publisher, count: 300, topics: ["job.d"], payloadBytes: 1000)
        }
        // A whole pass that began after the last publish finds every sealed segment whole.
        let before = try #require(try await broker.stats().scrub, "the scrub runs").passes
        try await eventually("two more passes") { (try await broker.stats().scrub?.passes ?? 0) >= before + 2 }
        let healthy = try #require(try await broker.stats().scrub)
        #expect(healthy.damagedSegments == 0 && healthy.lastPassEndedMs > 0)
        #expect(healthy.bytesRead >= 4 * 60_000, "the sealed segments were read: \(healthy)")
        #expect(!broker.process.stderrText.contains("journal scrub"), "\(broker.process.stderrText)")

        #expect(await broker.stop() == 0)
        let (files, offset, damagedSeq) = try damageFortiethRecord(broker)
        try await broker.restart()
        try await eventually("the scrub finds the damaged segment") {
            try await broker.stats().scrub?.damagedSegments == 1
        }
        #expect(
            await broker.process.stderrShows("journal scrub found a damaged record"), "\(broker.process.stderrText)")
        let line = broker.process.stderrText.split(separator: "\n").first {
            $0.contains("journal scrub found a damaged record")
        }
        #expect(line?.contains("seq=\(damagedSeq)") == true, "\(String(describing: line))")
        #expect(line?.contains("segment=\(files[0])") == true && line?.contains("offset=\(offset)") == true)
        let metrics = try BrokerAdminClient(consumeEndpoint: broker.consume).metrics()
        #expect(metricSample("metro_broker_journal_damaged_segments", in: metrics) == 1, "\(metrics)")
        // Found by the scrub alone: no group, no replay read the journal.
        let stats = try await broker.stats()
        #expect(stats.groups.isEmpty && stats.replays == 0)
        #expect(await broker.stop() == 0)
    }

    /// Off (`scrubIntervalSeconds: 0`): no thread, no `scrub` in STATS.
    @Test func aScrubTurnedOffReportsNothing() async throws {
        let broker = try await BrokerHarness(config: "journal:\n  fsync: never\n  scrubIntervalSeconds: 0\n")
        #expect(try await broker.stats().scrub == nil)
        #expect(await broker.stop() == 0)
    }
}
