import Foundation
import MetroKit
import MetroProtocol
import MetroTestKit
import Testing
import ZeroMQ

/// REJECT (protocol.md §4.10): a member ends a delivery at once on the group's
/// dead-letter topic, with its reason as the dead letter's `detail` header.
extension BrokerSystemTests {
    /// A consumer task that REJECTs the events with id "poison" (with `reason`)
    /// and ACKs the others; `seen` is every delivery in order.
    final class Rejecter: Sendable {
        let seen = Locked([Consumer.Delivery]())
        let task: Task<Void, Never>

        init(_ consumer: Consumer, reason: String) {
            let seen = self.seen
            task = Task {
                for await d in consumer.deliveries {
                    seen.withLock { $0.append(d) }
                    if d.event.eventID == bytes("poison") {
                        consumer.reject(d, reason: reason)
                    } else {
                        consumer.ack(d)
                    }
                }
            }
        }

        func attempts(of id: String) -> [UInt32] {
            seen.withLock { $0.filter { $0.event.eventID == bytes(id) }.map(\.attempt) }
        }
        deinit { task.cancel() }
    }

    func headers(_ e: LiveEvent) throws -> [String: String] {
        try JSONDecoder().decode([String: String].self, from: Data(e.headers))
    }

    @Test func aRejectedEventReachesTheDeadLetterTopicOnItsFirstAttemptWithTheReason() async throws {
        let broker = try await BrokerHarness(config: Self.groupConfig)
        let dead = try await LiveCollector(events: broker.events, prefixes: ["$metro.dead."])
        try await closing(dead) {
            let member = try consumer(broker, "m", config: .init(prefixes: ["job."], maxDeliveries: 5))
            try await closing(member) {
                let reason = "payload is not JSON: unexpected byte 0xff at offset 0 (ü)"
                let rejecter = Rejecter(member, reason: reason)
                let publisher = try Publisher(.init(ingest: broker.ingest))
                try await closing(publisher) {
                    let seq = try await publisher.publish(
                        topic: "job.a", payload: bytes("bad"), eventID: bytes("poison"))
                    _ = try await publisher.publish(topic: "job.a", payload: bytes("good"), eventID: bytes("fine"))
                    try await eventually("the dead letter") { !dead.events.isEmpty }
                    let d = dead.events[0]
                    #expect(
                        d.topic == "$metro.dead.workers" && d.eventID == bytes("poison") && d.payload == bytes("bad"))
                    #expect(
                        try headers(d) == [
                            "group": "workers", "reason": "rejected", "detail": reason, "deliveries": "1",
                            "seq": "\(seq)", "topic": "job.a",
                        ])
                    try await eventually("\"fine\" delivered and ACKed") {
                        let pending = try await broker.stats().groups["workers"]?.pending
                        return rejecter.attempts(of: "fine") == [1] && pending == 0
                    }
                    #expect(rejecter.attempts(of: "poison") == [1], "one delivery: no NAKs up to maxDeliveries")
                    let g = try #require(try await broker.stats().groups["workers"])
                    #expect(g.deadLettered == 1 && g.pending == 0 && g.redelivered == 0)
                    #expect(dead.events.count == 1)
                    #expect(await broker.stop() == 0)
                }
            }
        }
    }

    @Test func rejectOfADeliveryNotHeldIs203AndBadRejectsGetTheirErrors() async throws {
        // Refused requests are no heartbeats: a long interval keeps the raw member a
        // member however slowly this machine runs the steps below.
        let broker = try await BrokerHarness(config: "heartbeatIntervalMs: 5000\njournal:\n  fsync: never\n")
        let v = WireProtocol.versionBytes, g = bytes("g1"), cmd = bytes("REJECT")
        func dealer() throws -> Socket {
            let s = try testContext.socket(.dealer)
            try s.set(.receiveTimeout(milliseconds: 5000))
            try s.connect(broker.consume)
            return s
        }
        let s = try dealer(), other = try dealer()
        defer {
            s.close()
            other.close()
        }
        func ask(_ socket: Socket, _ frames: [[UInt8]]) async throws -> [[UInt8]] {
            try socket.send(multipart: frames)
            return try #require(try await socket.receiveOffPool())
        }
        let join = [v, bytes("JOIN"), g, bytes("m"), [0, 0, 0, 1], bytes(#"{"prefixes":["job."]}"#)]
        await #expect(try ask(s, join)[1] == bytes("JOINED"))
        let ack = try await request(
            on: broker.ingest, [v, bytes("PUBLISH"), bytes("e-1"), bytes("job.a"), [], bytes("x")])
        #expect(ack[1] == bytes("ACK"))
        let deliver = try #require(try await s.receiveOffPool())
        #expect(deliver[1] == bytes("DELIVER"))
        let seq = deliver[3], seqValue = try #require(BigEndian.uint64(seq))
        let notHeld = BigEndian.bytes(seqValue + 1)

        let long = [UInt8](repeating: 0x78, count: 257)
        let cases: [(String, [[UInt8]], WireErrorCode, [[UInt8]])] = [
            ("a seq it does not hold", [v, cmd, g, notHeld, bytes("x")], .unknownDelivery, [g, notHeld]),
            ("no reason frame", [v, cmd, g, seq], .malformedMessage, [g]),
            ("seq of 7 bytes", [v, cmd, g, Array(seq.dropFirst()), []], .malformedMessage, [g]),
            ("reason of 257 bytes", [v, cmd, g, seq, long], .tooLarge, [g]),
            ("reason not UTF-8", [v, cmd, g, seq, [0x6f, 0xff]], .invalidUTF8, [g]),
            ("bad group name", [v, cmd, bytes("a b"), seq, []], .invalidArgument, []),
            ("unknown group", [v, cmd, bytes("nope"), seq, []], .unknownGroup, [bytes("nope")]),
        ]
        for (name, frames, code, context) in cases {
            let (got, ctx) = await errorOf(try ask(s, frames))
            #expect(got == code, "\(name)")
            #expect(ctx == context, "\(name)")
        }
        // Another member of g1 does not hold it either; a connection that is no member is 202.
        await #expect(
            try ask(other, [v, bytes("JOIN"), g, bytes("o"), [0, 0, 0, 0], bytes("{}")])[1] == bytes("JOINED"))
        await #expect(errorOf(try ask(other, [v, cmd, g, seq, bytes("x")])) == (.unknownDelivery, [g, seq]))
        #expect(errorOf(try await request(on: broker.consume, [v, cmd, g, seq, bytes("x")])).0 == .unknownGroup)
        var stats = try #require(try await broker.stats().groups["g1"])
        #expect(stats.pending == 1 && stats.deadLettered == 0, "no refused REJECT ended the delivery")

        // The holder's REJECT has no reply: the HEARTBEAT's answer comes next.
        try s.send(multipart: [v, cmd, g, seq, bytes("cannot parse")])
        await #expect(try ask(s, [v, bytes("HEARTBEAT"), g])[1] == bytes("HEARTBEAT"))
        stats = try #require(try await broker.stats().groups["g1"])
        #expect(stats.pending == 0 && stats.deadLettered == 1 && stats.members == 2)
        await #expect(errorOf(try ask(s, [v, cmd, g, seq, []])) == (.unknownDelivery, [g, seq]), "already rejected")
        #expect(await broker.stop() == 0)
    }

    @Test func aRejectedEventIsNotDeliveredAgainAfterABrokerRestart() async throws {
        let broker = try await BrokerHarness(config: "heartbeatIntervalMs: 200\n")  // fsync: always
        let member = try consumer(broker, "m")
        try await closing(member) {
            let rejecter = Rejecter(member, reason: "bad")
            let publisher = try Publisher(.init(ingest: broker.ingest))
            try await closing(publisher) {
                _ = try await publisher.publish(topic: "job.a", payload: [], eventID: bytes("poison"))
                let one = try await publisher.publish(topic: "job.a", payload: [], eventID: bytes("one"))
                try await eventually("the poison rejected, \"one\" ACKed") {
                    let g = try await broker.stats().groups["workers"]
                    return g?.deadLettered == 1 && g?.pending == 0 && rejecter.attempts(of: "one") == [1]
                }
                // Wait until the saved state has the group past "one" with nothing pending.
                try await eventually("the state on disk") {
                    guard let saved = broker.savedWorkersGroup() else { return false }
                    return saved.position >= one && saved.pending == 0
                }
                await broker.kill9()
                try await broker.restart()
                try await eventually("the member joined again") { member.joins >= 2 }
                _ = try await publisher.publish(topic: "job.a", payload: [], eventID: bytes("two"))
                try await eventually("\"two\" after the restart") { rejecter.attempts(of: "two") == [1] }
                #expect(rejecter.attempts(of: "poison") == [1], "the rejected event did not come again")
                #expect(rejecter.attempts(of: "one") == [1])
                // The dead letter itself was journaled: a group on the dead-letter topic reads it back.
                let reader = try consumer(broker, "r", group: "dead", config: .init(prefixes: ["$metro.dead."]))
                try await closing(reader) {
                    let letters = Collector(reader)
                    try await eventually("the dead letter, from the journal") { letters.count >= 1 }
                    let d = letters.seen.withLock { $0[0].event }
                    #expect(d.topic == "$metro.dead.workers" && d.eventID == bytes("poison"))
                    #expect(try headers(d)["reason"] == "rejected" && headers(d)["detail"] == "bad")
                    #expect(letters.count == 1)
                }
                try await eventually("two ACKed") { try await broker.stats().groups["workers"]?.pending == 0 }
                #expect(await broker.stop() == 0)
            }
        }
    }

    @Test func metroConsumeRejectsTheEventsItIsToldTo() async throws {
        let broker = try await BrokerHarness(config: Self.groupConfig)
        let dead = try await LiveCollector(events: broker.events, prefixes: ["$metro.dead."])
        try await closing(dead) {
            let cli = try MetroProcess([
                "consume", "--consume", broker.consume, "--group", "workers", "--prefix", "job.", "--member", "cli",
                "--reject", "poison", "--reject-reason", "known bad upload",
            ])
            defer { cli.kill() }
            try await cli.waitUntilReady()
            let publisher = try Publisher(.init(ingest: broker.ingest))
            try await closing(publisher) {
                _ = try await publisher.publish(topic: "job.a", payload: [], eventID: bytes("poison"))
                _ = try await publisher.publish(topic: "job.a", payload: [], eventID: bytes("fine"))
                try await eventually("the dead letter") { !dead.events.isEmpty }
                let h = try headers(dead.events[0])
                #expect(h["reason"] == "rejected" && h["detail"] == "known bad upload" && h["deliveries"] == "1")
                try await eventually("\"fine\" ACKed") {
                    let pending = try await broker.stats().groups["workers"]?.pending
                    return cli.stdoutLines.count == 3 && pending == 0
                }
                let ids = cli.stdoutLines.dropFirst().map { $0.split(separator: " ").map(String.init) }
                #expect(ids.map { Array($0[1...3]) } == [["1", "poison", "job.a"], ["1", "fine", "job.a"]])
                #expect(try await broker.stats().groups["workers"]?.deadLettered == 1)
                #expect(await broker.stop() == 0)
            }
        }
    }
}

extension BrokerDocumentedExampleTests {
    @Test(.enabled("needs python3 with pyzmq") { await DocumentedExample.pyzmqAvailable })
    func thePyzmqRejectExampleOfSection4101Runs() async throws {
        let broker = try await BrokerHarness()
        let out = try await DocumentedExample.run(
            after: "#### 4.10.1",
            replacing: ["tcp://127.0.0.1:7701": broker.ingest, "tcp://127.0.0.1:7704": broker.consume])
        let line = try #require(out.split(separator: "\n").first.map(String.init))
        #expect(line.hasPrefix("$metro.dead.encoders upload-7 {"), "\(out)")
        let json = try #require(line.firstIndex(of: "{").map { line[$0...] })
        let h = try JSONDecoder().decode([String: String].self, from: Data(json.utf8))
        #expect(
            h == [
                "deliveries": "1", "detail": "payload is not JSON", "group": "encoders", "reason": "rejected",
                "seq": "1",
                "topic": "video.uploaded",
            ])
        let g = try #require(try await broker.stats().groups["encoders"])
        #expect(g.deadLettered == 1 && g.pending == 0)
        #expect(await broker.stop() == 0)
    }
}
