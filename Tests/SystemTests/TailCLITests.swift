import Foundation
import MetroKit
import MetroProtocol
import MetroTestKit
import Testing

/// `metro tail` against a real broker (issue 16 §3).
@Suite struct TailCLITests {
    func seqs(_ p: MetroProcess) -> [UInt64] {
        p.stdoutLines.compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["seq"] as? UInt64
        }
    }

    /// `--from earliest` while events keep coming: every acknowledged `video.`
    /// event exactly once, in seq order, none of the other topic, across the seam
    /// between the replay and the live stream.
    @Test func fromEarliestJoinsReplayAndLiveWithoutGapOrDuplicate() async throws {
        let broker = try await BrokerHarness()
        let publisher = try Publisher(.init(ingest: broker.ingest))
        try await closing(publisher) {
            var videoSeqs: [UInt64] = []
            for i in 0..<100 {
                videoSeqs.append(try await publisher.publish(topic: "video.watched", payload: bytes("{\"n\":\(i)}")))
                _ = try await publisher.publish(topic: "profile.other", payload: bytes("{}"))
            }
            let tail = try MetroProcess([
                "tail", "video.", "--from", "earliest", "--json", "--count", "300", "--events", broker.events,
                "--consume", broker.consume,
            ])
            // Published while the tail replays and goes live: the seam falls among these.
            for i in 100..<300 {
                videoSeqs.append(try await publisher.publish(topic: "video.watched", payload: bytes("{\"n\":\(i)}")))
                _ = try await publisher.publish(topic: "profile.other", payload: bytes("{}"))
            }
            #expect(await tail.waitForExit(timeout: .seconds(60)) == 0, "\(tail.stderrText)")
            #expect(seqs(tail) == videoSeqs, "no duplicate, no gap, in order")
            #expect(tail.stderrText.contains("live from seq"))
            // The catch-up asked for is reported as such (it was once "gap filled from the journal").
            #expect(tail.stderrText.contains("tail: replayed "), "\(tail.stderrText)")
            #expect(tail.stderrText.contains("events from the journal; following live"), "\(tail.stderrText)")
        }
        #expect(await broker.stop() == 0)
    }

    /// A tail frozen while 24 MB of events pass loses live events at the broker's
    /// high-water mark (100 here); thawed, it fills the gap from the journal,
    /// prints every event once in order, and says so on stderr.
    @Test func aLiveGapIsFilledFromTheJournalAndReported() async throws {
        let broker = try await BrokerHarness(config: "limits:\n  eventsHighWaterMark: 100\n")
        let tail = try MetroProcess([
            "tail", "gap.", "--json", "--count", "3000", "--events", broker.events, "--consume", broker.consume,
        ])
        defer { tail.kill() }
        try await waitFor("the tail is live") { tail.stderrText.contains("live from seq") }
        try await tail.freeze()
        let publisher = try Publisher(.init(ingest: broker.ingest))
        let payload = [UInt8](repeating: UInt8(ascii: "x"), count: 8192)
        let published = try await closing(publisher) {
            try await withThrowingTaskGroup(of: UInt64.self) { group in
                for _ in 0..<3000 {
                    group.addTask { try await publisher.publish(topic: "gap.x", payload: payload) }
                }
                var all: [UInt64] = []
                for try await seq in group { all.append(seq) }
                return all.sorted()
            }
        }
        tail.thaw()
        #expect(await tail.waitForExit(timeout: .seconds(60)) == 0, "\(tail.stderrText)")
        #expect(seqs(tail) == published, "every event once, in order")
        #expect(tail.stderrText.contains("tail: gap filled from the journal"), "\(tail.stderrText)")
        #expect(await broker.stop() == 0)
    }

    /// `--since` replays only what is that recent (here an ISO 8601 time; the
    /// durations `5m` etc. are the same lookup relative to now).
    @Test func sinceReplaysOnlyTheRecentEvents() async throws {
        let broker = try await BrokerHarness()
        let publisher = try Publisher(.init(ingest: broker.ingest))
        try await closing(publisher) {
            for _ in 0..<5 { _ = try await publisher.publish(topic: "video.old", payload: bytes("{}")) }
            // The old events must be older than the window: let 1.5 s pass, then ask
            // for what happened since 0.5 s before the recent ones, as a wall-clock
            // time, which does not move however long the tail takes to start.
            let old = ContinuousClock.now
            try await eventually("1.5 s passed") { ContinuousClock.now - old > .milliseconds(1500) }
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            let since = formatter.string(from: Date().addingTimeInterval(-0.5))
            var recent: [UInt64] = []
            for _ in 0..<5 { recent.append(try await publisher.publish(topic: "video.new", payload: bytes("{}"))) }
            let tail = try MetroProcess([
                "tail", "video.", "--since", since, "--json", "--count", "5", "--events", broker.events, "--consume",
                broker.consume,
            ])
            #expect(await tail.waitForExit(timeout: .seconds(30)) == 0, "\(tail.stderrText)")
            #expect(seqs(tail) == recent)
        }
        #expect(await broker.stop() == 0)
    }

    /// Without `--json` (and not on a terminal): a header line per event and the
    /// payload as indented JSON, without colour codes.
    @Test func prettyOutputShowsSeqTopicIdHeadersAndPayload() async throws {
        let broker = try await BrokerHarness()
        let publisher = try Publisher(.init(ingest: broker.ingest))
        let seq = try await closing(publisher) {
            try await publisher.publish(
                topic: "video.watched", payload: bytes(#"{"videoId":"v-9","userId":"u-1"}"#),
                headers: bytes(#"{"schema":"1.0"}"#), eventID: bytes("w-1"))
        }
        let tail = try MetroProcess([
            "tail", "video.", "--from", "earliest", "--count", "1", "--events", broker.events, "--consume",
            broker.consume,
        ])
        #expect(await tail.waitForExit(timeout: .seconds(30)) == 0, "\(tail.stderrText)")
        let out = tail.stdoutLines
        #expect(out.first?.hasPrefix("#\(seq)  ") == true && out.first?.hasSuffix("  video.watched  id w-1") == true)
        #expect(out.contains(#"  headers {"schema":"1.0"}"#))
        #expect(out.contains(#"    "userId": "u-1","#) && out.contains(#"    "videoId": "v-9""#), "\(out)")
        #expect(!out.joined().contains("\u{1B}["))
        #expect(await broker.stop() == 0)
    }
}
