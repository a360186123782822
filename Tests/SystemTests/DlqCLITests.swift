import Foundation
import MetroKit
import MetroProtocol
import MetroTestKit
import Testing

/// `metro dlq` against a real broker and a real group member that rejects a
/// poison event (issue 16 §5): quarantined, listed, shown, re-published once,
/// purged, and never lost from the journal.
@Suite struct DlqCLITests {
    let broker: BrokerHarness

    init() async throws { broker = try await BrokerHarness() }

    /// `metro dlq ARGS` to its end; its exit status and stdout.
    private func dlq(_ args: [String], shell: String? = nil) async throws -> (Int32?, [String], String) {
        let p = try MetroProcess(
            ["dlq"] + args + ["--consume", broker.consume, "--ingest", broker.ingest], shell: shell)
        let status = await p.waitForExit(timeout: .seconds(30))
        return (status, p.stdoutLines, p.stderrText)
    }

    private func listed(_ extra: [String] = []) async throws -> [[String: Any]] {
        let (status, lines, err) = try await dlq(["list", "--json"] + extra)
        #expect(status == 0, "\(err)")
        let object = try JSONSerialization.jsonObject(with: Data(lines.joined().utf8)) as? [String: Any]
        return try #require(object?["deadLetters"] as? [[String: Any]])
    }

    @Test func poisonIsQuarantinedListedRepublishedOnceAndPurgedWithoutLoss() async throws {
        // A real member of group "encoders" that REJECTs the two poison events.
        let member = try MetroProcess([
            "consume", "--consume", broker.consume, "--group", "encoders", "--prefix", "video.", "--reject", "poison-1",
            "--reject", "poison-2", "--reject-reason", "sizeBytes is negative",
        ])
        defer { member.kill() }
        try await member.waitUntilReady()
        let publisher = try Publisher(.init(ingest: broker.ingest))
        let poison = "{\"videoId\":\"v-9\",\"sizeBytes\":-1}"
        let originalSeq = try await closing(publisher) {
            let seq = try await publisher.publish(
                topic: "video.uploaded", payload: bytes(poison), eventID: bytes("poison-1"))
            _ = try await publisher.publish(
                topic: "video.uploaded", payload: bytes("{\"videoId\":\"v-10\"}"), eventID: bytes("poison-2"))
            return seq
        }
        try await eventually("two dead letters") { try await broker.stats().groups["encoders"]?.deadLettered == 2 }

        // list: both, with reason, delivery count, original topic and seq.
        let open = try await listed()
        #expect(open.count == 2, "\(open)")
        let first = try #require(open.first)
        #expect(first["group"] as? String == "encoders")
        #expect(first["reason"] as? String == "rejected")
        #expect(first["detail"] as? String == "sizeBytes is negative")
        #expect(first["deliveries"] as? Int == 1)
        #expect(first["topic"] as? String == "video.uploaded")
        #expect((first["originalSeq"] as? NSNumber)?.uint64Value == originalSeq)
        #expect(first["originalId"] as? String == "poison-1")
        #expect(first["time"] as? String != nil)
        let deadSeq = try #require((first["seq"] as? NSNumber)?.uint64Value)
        let secondDeadSeq = try #require((open.last?["seq"] as? NSNumber)?.uint64Value)

        // show: everything, the payload pretty-printed.
        let (shown, shownLines, shownErr) = try await dlq(["show", "\(deadSeq)"])
        #expect(shown == 0, "\(shownErr)")
        let text = shownLines.joined(separator: "\n")
        #expect(text.contains("dead letter #\(deadSeq)"), "\(text)")
        #expect(text.contains("rejected: sizeBytes is negative"), "\(text)")
        #expect(text.contains("original     video.uploaded seq \(originalSeq) id poison-1"), "\(text)")
        #expect(
            shownLines.contains("      \"sizeBytes\": -1,") || shownLines.contains("      \"sizeBytes\": -1"), "\(text)"
        )

        // republish: back to video.uploaded with a new id and link headers; the
        // member (which rejects only the poison ids) receives and ACKs it.
        let newID = "dlq-\(deadSeq)-poison-1"
        let (republished, out, err) = try await dlq(["republish", "\(deadSeq)"])
        #expect(republished == 0, "\(err)")
        #expect(out.first?.contains("republished to video.uploaded as id \(newID) seq ") == true, "\(out)")
        try await eventually("the member got the re-published event") {
            member.stdoutLines.contains { $0.contains(" 1 \(newID) video.uploaded \(poison)") }
        }
        // Again, by seq and by group: nothing more is published.
        let (again, againOut, _) = try await dlq(["republish", "\(deadSeq)"])
        #expect(again == 0)
        #expect(againOut.first?.contains("already republished as \(newID)") == true, "\(againOut)")
        let replayed = try await replay(
            on: broker.consume, .init(id: bytes("check"), start: .seq(0), credit: 100, prefixes: [bytes("video.")]))
        let copies = replayed.events.filter { $0.eventID == bytes(newID) }
        #expect(copies.count == 1, "the re-published event is journaled once")
        let headers =
            try JSONSerialization.jsonObject(with: Data(try #require(copies.first).headers)) as? [String: String]
        #expect(headers?["dlqOriginalId"] == "poison-1")
        #expect(headers?["dlqSeq"] == "\(deadSeq)")
        #expect(headers?["dlqGroup"] == "encoders")
        #expect(headers?["dlqOriginalSeq"] == "\(originalSeq)")
        #expect(copies.first?.payload == bytes(poison))

        // The republished one is no longer listed; the other still is.
        #expect(try await listed().compactMap { ($0["seq"] as? NSNumber)?.uint64Value } == [secondDeadSeq])

        // purge: every open one is refused without --yes off a terminal.
        let (refused, _, refusedErr) = try await dlq(["purge"], shell: "exec </dev/null")
        #expect(refused == 2)
        #expect(refusedErr.contains("without --yes"), "\(refusedErr)")
        #expect(try await listed().count == 1)
        // By seq: only open dead letters, and no question (the seqs name what goes).
        let (resolvedAlready, _, resolvedErr) = try await dlq(["purge", "\(deadSeq)"], shell: "exec </dev/null")
        #expect(resolvedAlready != 0)
        #expect(resolvedErr.contains("dead letter \(deadSeq) is resolved already"), "\(resolvedErr)")
        let (unknown, _, unknownErr) = try await dlq(["purge", "999999"], shell: "exec </dev/null")
        #expect(unknown != 0)
        #expect(unknownErr.contains("no dead letter has seq 999999"), "\(unknownErr)")
        let (purged, purgedOut, purgedErr) = try await dlq(["purge", "\(secondDeadSeq)"], shell: "exec </dev/null")
        #expect(purged == 0, "\(purgedErr)")
        #expect(purgedOut.first == "purged 1 dead letter (seqs \(secondDeadSeq))", "\(purgedOut)")
        #expect(try await listed().isEmpty)
        let (none, noneOut, _) = try await dlq(["purge", "--group", "encoders", "--yes"])
        #expect(none == 0)
        #expect(noneOut.first == "no open dead letters in group encoders to purge", "\(noneOut)")

        // Nothing lost: both dead letters are still in the journal, and
        // `list --resolved` shows them with what was done.
        let resolved = try await listed(["--resolved"])
        #expect(resolved.count == 2)
        #expect(
            resolved.compactMap { ($0["resolution"] as? [String: Any])?["action"] as? String } == [
                "republished", "purged",
            ])
        let dead = try await replay(
            on: broker.consume, .init(id: bytes("dead"), start: .seq(0), credit: 100, prefixes: [bytes("$metro.dead.")])
        )
        #expect(dead.events.map(\.seq) == [deadSeq, secondDeadSeq])
        #expect(dead.events.map(\.eventID) == [bytes("poison-1"), bytes("poison-2")])
        #expect(await broker.stop() == 0)
    }

    /// A re-run that comes before the resolution record (a crash between the two
    /// publishes, or two operators at once) sends the same derived id again, and
    /// the broker's dedupe window (protocol.md §4.2.3) stores it once.
    @Test func theDerivedIdMakesAResendADuplicateTheBrokerDrops() async throws {
        let member = try MetroProcess([
            "consume", "--consume", broker.consume, "--group", "g", "--prefix", "job.", "--reject", "bad-1",
        ])
        defer { member.kill() }
        try await member.waitUntilReady()
        let publisher = try Publisher(.init(ingest: broker.ingest))
        try await closing(publisher) {
            _ = try await publisher.publish(topic: "job.run", payload: bytes("{}"), eventID: bytes("bad-1"))
            try await eventually("a dead letter") { try await broker.stats().groups["g"]?.deadLettered == 1 }
            let deadSeq = try #require((try await listed().first?["seq"] as? NSNumber)?.uint64Value)
            // What a first run published before it could write its record:
            let first = try await publisher.publish(
                topic: "job.run", payload: bytes("{}"), eventID: bytes("dlq-\(deadSeq)-bad-1"))
            let (status, out, err) = try await dlq(["republish", "--all"])
            #expect(status == 0, "\(err)")
            #expect(out.first?.hasSuffix("as id dlq-\(deadSeq)-bad-1 seq \(first)") == true, "\(out)")
        }
        #expect(try await broker.stats().deduplicated == 1)
        #expect(await broker.stop() == 0)
    }
}
