import Foundation
import MetroKit
import MetroProtocol
import MetroTestKit
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `metro publish` against a real broker (issue 16 §2).
@Suite struct PublishCLITests {
    static let topics = [
        "profile.created", "profile.updated", "video.watched", "video.uploaded", "video.processed", "video.failed",
    ]

    func json(_ line: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }

    /// Nothing at the ingest endpoint: the hint says so (from a refused TCP
    /// connection), instead of asking whether a broker listens or wants CURVE.
    @Test func aPublishToNothingSaysNothingListensThere() async throws {
        let nowhere = try TestPorts.freeEndpoints(1)[0]
        let p = try MetroProcess([
            "publish", "video.watched", "--example", "--synthetic", "--ingest", nowhere, "--timeout-ms", "500",
        ])
        #expect(await p.waitForExit(timeout: .seconds(20)) == 1)
        #expect(
            p.stderrText.contains("hint: nothing was acknowledged by \(nowhere) (nothing listens there"),
            "\(p.stderrText)")
    }

    /// SIGTERM (or Ctrl-C) during a long stream: it stops sending, prints the
    /// summary marked interrupted, and exits 130 (it died at once, silent, before).
    /// With the broker frozen, the events in flight get 2 s for their ACKs, then are
    /// reported as sent without an answer.
    @Test func anInterruptedStreamSaysWhatWasAcknowledged() async throws {
        let broker = try await BrokerHarness()
        let args = ["publish", "video.watched", "--example", "--synthetic", "--count", "1000000", "--json"]
        let quiet = try MetroProcess(args + ["--rate", "500", "--ingest", broker.ingest])
        try await waitFor("a progress line") { quiet.stderrText.contains("video.watched: sent ") }
        quiet.kill(SIGTERM)
        #expect(await quiet.waitForExit(timeout: .seconds(10)) == 130, "\(quiet.stderrText)")
        try await waitFor("the summary") { !quiet.stdoutLines.isEmpty }
        let summary = try json(try #require(quiet.stdoutLines.last))
        let sent = try #require(summary["sent"] as? Int)
        #expect(summary["interrupted"] as? Bool == true)
        #expect(sent > 0 && sent < 1_000_000)
        #expect(summary["acked"] as? Int == sent, "every event sent before the signal is acknowledged: \(summary)")
        #expect(summary["unanswered"] as? Int == 0)
        #expect(quiet.stderrText.contains("interrupted: sending no more"))

        // The broker stops answering; the stream fills its window, then is interrupted.
        let stuck = try MetroProcess(args + ["--ingest", broker.ingest])
        try await waitFor("a progress line") { stuck.stderrText.contains("video.watched: sent ") }
        try await broker.process.freeze()
        defer { broker.process.thaw() }
        // A progress line after the freeze: its window has been full since (no ACK comes).
        let progressLines = { stuck.stderrText.components(separatedBy: "video.watched: sent ").count }
        let atFreeze = progressLines()
        try await waitFor("a progress line after the freeze") { progressLines() > atFreeze }
        let before = ContinuousClock.now
        stuck.kill(SIGTERM)
        #expect(await stuck.waitForExit(timeout: .seconds(10)) == 130, "\(stuck.stderrText)")
        #expect(ContinuousClock.now - before >= .seconds(1.5), "it waited for the ACKs in flight")
        try await waitFor("the summary") { !stuck.stdoutLines.isEmpty }
        let unanswered = try json(try #require(stuck.stdoutLines.last))
        let waited = try #require(unanswered["unanswered"] as? Int)
        #expect(waited > 0, "\(unanswered)")
        #expect(
            (unanswered["acked"] as? Int ?? -1) + waited + (unanswered["errors"] as? Int ?? -1)
                == unanswered["sent"] as? Int, "\(unanswered)")
        #expect(stuck.stderrText.contains("waiting up to 2 s for the ACKs of the"), "\(stuck.stderrText)")
    }

    /// One example per topic of docs/events.md: each is acknowledged, and what the
    /// journal holds has the topic's fields (read back with `metro tail`).
    @Test func anExampleOfEveryTopicIsAcknowledgedAndJournaled() async throws {
        let broker = try await BrokerHarness()
        for topic in Self.topics {
            let p = try MetroProcess(["publish", topic, "--example", "--ingest", broker.ingest])
            #expect(await p.waitForExit() == 0, "\(topic): \(p.stderrText)")
            #expect(p.stdoutLines.first?.hasPrefix("acked \(topic) seq ") == true, "\(p.stdoutLines)")
        }
        let tail = try MetroProcess([
            "tail", "--from", "earliest", "--json", "--count", "\(Self.topics.count)", "--events", broker.events,
            "--consume", broker.consume,
        ])
        #expect(await tail.waitForExit() == 0, "\(tail.stderrText)")
        let events = try tail.stdoutLines.map(json)
        #expect(events.map { $0["topic"] as? String } == Self.topics)
        let payloads = events.map { $0["payload"] as? [String: Any] ?? [:] }
        let uploaded = payloads[3]
        #expect((uploaded["sourceBlobId"] as? String)?.count == 64)
        for key in ["videoId", "ownerId", "title", "tags", "contentType", "sizeBytes", "uploadedAtMs"] {
            #expect(uploaded[key] != nil, "video.uploaded has \(key): \(uploaded)")
        }
        let media = try #require(payloads[4]["media"] as? [String: Any])
        #expect(media["durationSeconds"] != nil && media["videoCodec"] != nil && media["frameRate"] != nil)
        #expect((payloads[0]["user"] as? [String: Any])?["version"] as? Int == 1)
        #expect(events.allSatisfy { ($0["headers"] as? [String: String]) == ["schema": "1.0"] })
        #expect(await broker.stop() == 0)
    }

    @Test func aPayloadThatBreaksTheSchemaIsRefusedUnlessRaw() async throws {
        let broker = try await BrokerHarness()
        let bad = try MetroProcess([
            "publish", "video.watched", "--data", #"{"videoId":"v-1","watchedAtMs":-5}"#, "--ingest", broker.ingest,
        ])
        #expect(await bad.waitForExit() != 0)
        #expect(bad.stderrText.contains("$.userId: required, missing"), "\(bad.stderrText)")
        #expect(bad.stderrText.contains("$.watchedAtMs: -5 is below the minimum 0"), "\(bad.stderrText)")
        let unknown = try MetroProcess(["publish", "video.nothing", "--data", "{}", "--ingest", broker.ingest])
        #expect(await unknown.waitForExit() != 0)
        #expect(unknown.stderrText.contains("--raw"), "\(unknown.stderrText)")
        #expect(try await broker.stats().accepted == 0)

        let raw = try MetroProcess([
            "publish", "video.watched", "--raw", "--data", "not json at all", "--ingest", broker.ingest,
        ])
        #expect(await raw.waitForExit() == 0, "\(raw.stderrText)")
        #expect(try await broker.stats().accepted == 1)
        #expect(await broker.stop() == 0)
    }

    @Test func thePayloadCanComeFromStdinOrAFile() async throws {
        let broker = try await BrokerHarness()
        let dir = try TemporaryDirectory()
        let file = dir.url.appendingPathComponent("watched.json").path
        try #"{"userId":"u-1","videoId":"v-1","watchedAtMs":1764641520000}"#.write(
            toFile: file, atomically: true, encoding: .utf8)
        let fromFile = try MetroProcess(["publish", "video.watched", "--file", file, "--ingest", broker.ingest])
        #expect(await fromFile.waitForExit() == 0, "\(fromFile.stderrText)")
        let fromStdin = try MetroProcess(
            ["publish", "video.watched", "--ingest", broker.ingest], shell: "exec 0<'\(file)'")
        #expect(await fromStdin.waitForExit() == 0, "\(fromStdin.stderrText)")
        #expect(fromStdin.stdoutLines.last == #"{"userId":"u-1","videoId":"v-1","watchedAtMs":1764641520000}"#)
        #expect(try await broker.stats().accepted == 2)
        #expect(await broker.stop() == 0)
    }

    /// `--count --rate`: a progress line on stderr, and a summary whose counts
    /// match the broker's and whose ACK latencies come from the histogram.
    @Test func aStreamPrintsProgressAndASummaryWithAckLatencies() async throws {
        let broker = try await BrokerHarness()
        let p = try MetroProcess([
            "publish", "video.watched", "--example", "--count", "600", "--rate", "400", "--json", "--ingest",
            broker.ingest,
        ])
        #expect(await p.waitForExit(timeout: .seconds(60)) == 0, "\(p.stderrText)")
        let summary = try json(try #require(p.stdoutLines.last))
        #expect(summary["sent"] as? Int == 600 && summary["acked"] as? Int == 600 && summary["errors"] as? Int == 0)
        let p50 = try #require(summary["p50Ms"] as? Double)
        let p99 = try #require(summary["p99Ms"] as? Double)
        #expect(p50 > 0 && p99 >= p50, "\(summary)")
        // 600 events at 400/s take at least 1.5 s: the rate was kept.
        #expect(try #require(summary["seconds"] as? Double) >= 1.45, "\(summary)")
        #expect(p.stderrText.contains("video.watched: sent "), "a progress line: \(p.stderrText)")
        #expect(try await broker.stats().accepted == 600)
        #expect(await broker.stop() == 0)
    }

    /// The PUB path waits for the connection (protocol.md §4.3), so none is lost.
    @Test func fireAndForgetLosesNothingOnAFreshConnection() async throws {
        let broker = try await BrokerHarness()
        let p = try MetroProcess([
            "publish", "video.watched", "--example", "--count", "50", "--fire-and-forget", "--json", "--publish",
            broker.publish,
        ])
        #expect(await p.waitForExit(timeout: .seconds(30)) == 0, "\(p.stderrText)")
        let summary = try json(try #require(p.stdoutLines.last))
        #expect(summary["sent"] as? Int == 50 && summary["fireAndForget"] as? Bool == true)
        try await eventually("all 50 journaled", timeout: .seconds(10)) { try await broker.stats().accepted == 50 }
        #expect(await broker.stop() == 0)
    }
}

/// docs/events.md's own examples pass `metro publish`'s schema check (its
/// catalogue is written by hand from that document: this keeps them in step).
@Suite struct PublishSchemaMatchesEventsDocTests {
    /// The first ```json block after "Example" in the section of `topic`.
    func example(_ topic: String) throws -> String {
        let doc = try String(
            contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("docs/events.md"), encoding: .utf8)
        guard let section = doc.range(of: "`\(topic)` 1.0\n"),
            let label = doc.range(of: "Example", range: section.upperBound..<doc.endIndex),
            let start = doc.range(of: "```json\n", range: label.upperBound..<doc.endIndex),
            let end = doc.range(of: "\n```", range: start.upperBound..<doc.endIndex)
        else { throw WaitError.unexpected("no example for \(topic) in events.md") }
        return String(doc[start.upperBound..<end.lowerBound])
    }

    @Test(arguments: ["profile.created", "profile.updated", "video.watched"])
    func theDocumentedExamplePasses(_ topic: String) async throws {
        let broker = try await BrokerHarness()
        let p = try MetroProcess(["publish", topic, "--data", try example(topic), "--ingest", broker.ingest])
        #expect(await p.waitForExit() == 0, "\(topic): \(p.stderrText)")
        #expect(await broker.stop() == 0)
    }
}
