import Foundation
import MetroKit
import MetroProtocol
import MetroTestKit
import Testing
import ZeroMQ

/// A record damaged on disk after it was written (bit rot in a sealed segment,
/// which recovery trusts through its index): every reader stops where it is and
/// says so (protocol.md §4.9 "Read failures", §4.9.2), none takes it for the end
/// of the journal and goes on as if the events after it did not exist. A group
/// waits before it, visibly (STATS `stalled`, `metro_group_stalled`), until an
/// operator names the record to `metro broker skip-damaged` (§4.10.4).
extension BrokerSystemTests {
    func skipDamaged(_ broker: BrokerHarness, _ group: String, _ seq: UInt64) async -> (Int32?, String, String) {
        guard
            let p = try? MetroProcess([
                "broker", "skip-damaged", group, "--seq", "\(seq)", "--consume", broker.consume,
            ])
        else { return (nil, "", "") }
        let status = await p.waitForExit(timeout: .seconds(20))
        return (status, p.stdoutLines.joined(separator: "\n"), p.stderrText)
    }

    /// Flips the last payload byte of the 40th record of the first (sealed) segment
    /// of a stopped broker (its checksum fails, its framing holds), or with
    /// `framing` its topic length (its lengths no longer add up): the segment
    /// files, the record's offset and its seq.
    func damageFortiethRecord(
        _ broker: BrokerHarness, framing: Bool = false
    ) throws -> (files: [String], offset: Int, seq: UInt64) {
        let files = try FileManager.default.contentsOfDirectory(atPath: broker.journalPath)
            .filter { $0.hasSuffix(".seg") }.sorted()
        try #require(files.count > 2)
        let path = broker.journalPath + "/" + files[0]
        var file = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        var at = 8
        func probe() -> JournalRecord.Probe {
            file.withUnsafeBytes { JournalRecord.probe(UnsafeRawBufferPointer(rebasing: $0[at...])) }
        }
        for _ in 0..<39 {
            guard case .record(let size, _, _) = probe() else { throw CocoaError(.fileReadCorruptFile) }
            at += size
        }
        guard case .record(let size, let seq, _) = probe() else { throw CocoaError(.fileReadCorruptFile) }
        file[framing ? at + 25 : at + size - 1] ^= 0x5a
        try Data(file).write(to: URL(fileURLWithPath: path))
        return (files, at, seq)
    }

    /// A pending event (held when the broker stopped) whose record is damaged when
    /// it is read back after the restart: not taken for "removed by retention" and
    /// forgotten (counted `expired`), but kept, tried again after its ACK timeout,
    /// and at maxDeliveries ended with an error saying that no dead letter could
    /// be written. Every other event is delivered.
    @Test func aDamagedPendingRecordIsNeverTakenForOneRetentionRemoved() async throws {
        let broker = try await BrokerHarness(
            config: "heartbeatIntervalMs: 1000\njournal:\n  fsync: never\n  segmentBytes: 65536\n")
        let publisher = try Publisher(.init(ingest: broker.ingest))
        let seqs = try await closing(publisher) {
            try await publishMany(publisher, count: 300, topics: ["job.d"], payloadBytes: 1000).sorted()
        }
        // A member that holds the first 100 events and ACKs none.
        let config = GroupCodec.Config(prefixes: ["job."], ackTimeoutMs: 3000, maxDeliveries: 2)
        let holder = try consumer(broker, "holder", group: "p", window: 100, config: config)
        try await closing(holder) {
            let held = Collector(holder, ack: { _ in false })
            try await eventually("the member holds 100 events") { held.count >= 100 }
        }
        #expect(await broker.stop() == 0)
        let (_, _, damagedSeq) = try damageFortiethRecord(broker)
        #expect(damagedSeq == seqs[39])
        try await broker.restart()

        let member = try consumer(broker, "after", group: "p", window: 100, config: config)
        try await closing(member) {
            let seen = Collector(member)
            try await eventually("every other event is delivered") { seen.count >= 299 }
            #expect(Set(seen.seqs) == Set(seqs).subtracting([damagedSeq]))
            try await eventually("the damaged one ends at maxDeliveries", timeout: .seconds(30)) {
                try await broker.stats().groups["p"]?.pending == 0
            }
            #expect(try await broker.stats().groups["p"]?.expired == 0, "never counted as removed by retention")
            #expect(!seen.seqs.contains(damagedSeq))
        }
        let log = broker.process.stderrText
        #expect(!log.contains("gone (retention)"), "\(log.suffix(2000))")
        #expect(log.components(separatedBy: "a pending event's record cannot be read").count == 2, "logged once")
        #expect(log.contains("an event ended without its dead letter: its record cannot be read"))
        #expect(await broker.stop() == 0)
    }

    @Test func aDamagedRecordStopsReplaysAndGroupsWhereItIsNeverSkipped() async throws {
        let broker = try await BrokerHarness(
            config: "heartbeatIntervalMs: 1000\njournal:\n  fsync: never\n  segmentBytes: 65536\n")
        let publisher = try Publisher(.init(ingest: broker.ingest))
        let seqs = try await closing(publisher) {
            try await publishMany(publisher, count: 300, topics: ["job.d"], payloadBytes: 1000).sorted()
        }
        #expect(await broker.stop() == 0)
        let (files, at, damagedSeq) = try damageFortiethRecord(broker)
        #expect(damagedSeq == seqs[39])
        try await broker.restart()

        // Per event: the 39 before it, then 206 naming it (the broker checks each
        // checksum); a replay from the seq after it gets the rest.
        let client = try ReplayConnection(broker.consume)
        defer { client.close() }
        try client.start(.init(id: bytes("r"), start: .seq(0), credit: 100_000))
        let (events, end) = try await client.untilEnd()
        #expect(events.map(\.seq) == Array(seqs.prefix(39)))
        guard case .error(let error, let id, let seq) = end else {
            Issue.record("the replay ended with \(end), not ERROR 206")
            return
        }
        #expect(error.code == .damagedRecord && id == bytes("r") && seq == damagedSeq, "\(error)")
        #expect(error.message.contains(files[0]) && error.message.contains("replay from \(damagedSeq + 1)"))
        // Counted where an alert can see it (MetroReplayReachedDamagedRecord).
        #expect(try await broker.stats().damagedReplays == 1)
        let damagedMetric = try BrokerAdminClient(consumeEndpoint: broker.consume).metrics()
        #expect(damagedMetric.contains("metro_broker_replays_damaged_total 1\n"), "\(damagedMetric)")
        try client.start(.init(id: bytes("r2"), start: .seq(damagedSeq + 1), credit: 100_000))
        let (rest, restEnd) = try await client.untilEnd()
        #expect(rest.map(\.seq) == Array(seqs.dropFirst(40)))
        #expect(restEnd == .caughtUp(id: bytes("r2"), lastSeq: seqs.last!))

        // Packed: the broker passes the record on (framing intact) and the client's
        // end-to-end check refuses the frame that holds it (§4.9.2).
        let packed = try await packedReplay(
            on: broker.consume, .init(id: bytes("p"), start: .seq(0), credit: 100_000), batchBytes: 65536,
            window: 100_000)
        #expect(packed.damaged)
        #expect(!packed.events.contains { $0.seq >= damagedSeq })

        // MetroKit's subscriber, catching up from the start in the packed form, asks
        // the damaged frame's range again per event, skips the damaged record and
        // counts it: every other event arrives, in order.
        var options = Subscriber.Options(events: broker.events, prefixes: ["job."])
        options.consume = broker.consume
        options.startAt = 0
        let subscriber = try Subscriber(options)
        try await closing(subscriber) {
            let (got, task) = collect(subscriber)
            defer { task.cancel() }
            try await eventually("the subscriber catches up past the damaged record") {
                got.withLock { $0.count } >= 299
            }
            #expect(got.withLock { $0.map(\.seq) } == seqs.filter { $0 != damagedSeq })
            #expect(subscriber.ledger.damagedRecords == 1 && subscriber.ledger.lostRanges == 0)
        }
        // `metro tail` (that subscriber) prints the 299 events and says what it skipped.
        let tail = try MetroProcess([
            "tail", "job.", "--from", "earliest", "--json", "--count", "299", "--events", broker.events,
            "--consume", broker.consume,
        ])
        #expect(await tail.waitForExit() == 0, "\(tail.stderrText)")
        #expect(tail.stdoutLines.count == 299)
        #expect(
            tail.stderrText.contains("lost: 1 journal record(s) damaged on the broker's disk were skipped"),
            "\(tail.stderrText)")

        // A group delivers what comes before it and waits there; it says so once.
        let consumer = try consumer(
            broker, "a", group: "readers-of-a-damaged-journal", config: .init(prefixes: ["job."]))
        try await closing(consumer) {
            let seen = Collector(consumer)
            try await eventually("the group delivers the records before it") { seen.count >= 39 }
            try await Task.sleep(for: .milliseconds(500))
            #expect(Set(seen.seqs) == Set(seqs.prefix(39)), "nothing at or after the damaged record")

            // Visible where an operator looks: STATS and the metrics name the record.
            let stall = try await broker.stats().groups["readers-of-a-damaged-journal"]?.stalled
            #expect(stall?.seq == damagedSeq && stall?.segment == files[0], "\(String(describing: stall))")
            let admin = BrokerAdminClient(consumeEndpoint: broker.consume)
            #expect(try admin.metrics().contains("metro_group_stalled{group=\"readers-of-a-damaged-journal\"} 1"))
            let table = try MetroProcess(["broker", "stats", "--groups", "--consume", broker.consume])
            #expect(await table.waitForExit(timeout: .seconds(20)) == 0)
            // The whole name, never cut to the first column's 24 characters.
            #expect(
                table.stdoutLines.contains { $0.hasPrefix("readers-of-a-damaged-journal  ") }, "\(table.stdoutLines)")
            #expect(
                table.stdoutLines.contains {
                    $0.contains(
                        "group readers-of-a-damaged-journal is STOPPED: before the damaged journal record \(damagedSeq) (offset \(at) of \(files[0]))"
                    )
                }, "\(table.stdoutLines)")

            // A skip must name the record the group stopped at.
            let (wrong, _, wrongErr) = await skipDamaged(broker, "readers-of-a-damaged-journal", damagedSeq + 1)
            #expect(wrong != 0)
            #expect(
                wrongErr.contains("108") && wrongErr.contains("stopped at the damaged record \(damagedSeq), not"),
                "\(wrongErr)")
            #expect(seen.count == 39)

            // Named: the group reads on after it, and loses that one event only.
            let (status, out, err) = await skipDamaged(broker, "readers-of-a-damaged-journal", damagedSeq)
            #expect(status == 0, "\(err)")
            #expect(out.contains("moved past the damaged record \(damagedSeq) (\(files[0]), offset \(at))"), "\(out)")
            try await eventually("the group delivers the records after it") { seen.count >= 299 }
            #expect(Set(seen.seqs) == Set(seqs).subtracting([damagedSeq]))
            let after = try await broker.stats().groups["readers-of-a-damaged-journal"]
            #expect(after?.stalled == nil && after?.damagedSkipped == 1)
            #expect(try admin.metrics().contains("metro_group_stalled{group=\"readers-of-a-damaged-journal\"} 0"))

            let (again, _, againErr) = await skipDamaged(broker, "readers-of-a-damaged-journal", damagedSeq)
            #expect(again != 0)
            #expect(againErr.contains("is not stopped at a damaged record"), "\(againErr)")
        }
        let log = broker.process.stderrText
        #expect(log.components(separatedBy: "group read failed").count == 2, "logged once: \(log.suffix(2000))")
        #expect(log.contains(files[0]))
        #expect(
            log.contains("metro broker skip-damaged readers-of-a-damaged-journal --seq \(damagedSeq)"),
            "the log says how to act")
        #expect(log.contains("damaged record skipped"))
        #expect(log.contains("replay reached a damaged journal record"))
        #expect(await broker.stop() == 0)
    }

    /// A record whose lengths no longer add up is found by the broker in the packed
    /// form too (it checks framing, §4.9.2): the frames end with the records before
    /// it and ERROR 206 names it, as in the per-event form.
    @Test func aRecordWithBrokenFramingEndsAPackedReplayWith206NamingIt() async throws {
        let broker = try await BrokerHarness(config: "journal:\n  fsync: never\n  segmentBytes: 65536\n")
        let publisher = try Publisher(.init(ingest: broker.ingest))
        let seqs = try await closing(publisher) {
            try await publishMany(publisher, count: 300, topics: ["job.f"], payloadBytes: 1000).sorted()
        }
        #expect(await broker.stop() == 0)
        let (_, _, damagedSeq) = try damageFortiethRecord(broker, framing: true)
        try await broker.restart()

        for batchBytes: UInt32 in [4096, 65536] {  // the damaged record first in a read, and inside one
            let packed = try await packedReplay(
                on: broker.consume, .init(id: bytes("f"), start: .seq(0), credit: 100_000), batchBytes: batchBytes,
                window: 100_000)
            #expect(!packed.damaged && packed.events.map(\.seq) == Array(seqs.prefix(39)), "\(batchBytes)")
            #expect(
                packed.error?.code == .damagedRecord && packed.errorContext.seq == damagedSeq,
                "\(String(describing: packed.error))")
        }
        let client = try ReplayConnection(broker.consume)
        defer { client.close() }
        try client.start(.init(id: bytes("e"), start: .seq(0), credit: 100_000))
        let (events, end) = try await client.untilEnd()
        guard case .error(let error, _, let seq) = end else {
            Issue.record("the replay ended with \(end), not ERROR 206")
            return
        }
        #expect(events.count == 39 && error.code == .damagedRecord && seq == damagedSeq, "\(error)")
        #expect(await broker.stop() == 0)
    }
}
