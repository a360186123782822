import Foundation
import MetroKit
import MetroProtocol
import MetroTestKit
import Testing
import ZeroMQ

/// Real brokers on loopback. One serialized suite: on a 2-core box, brokers
/// under load in parallel would only measure each other.
@Suite(.serialized) struct BrokerSystemTests {
    @Test func acknowledgedPublishReachesASubscriberAfterItsHello() async throws {
        let broker = try await BrokerHarness()
        let live = try await LiveCollector(events: broker.events, prefixes: ["video."])
        try await closing(live) {
            let publisher = try Publisher(.init(ingest: broker.ingest, publish: broker.publish))
            try await closing(publisher) {

                let seq = try await publisher.publish(
                    topic: "video.uploaded", payload: bytes("v1"), headers: bytes("{}"),
                    eventID: bytes("e-1"))
                #expect(seq > live.liveFrom)
                let again = try await publisher.publish(
                    topic: "video.uploaded", payload: bytes("v1"), eventID: bytes("e-1"))
                #expect(again == seq)
                _ = try await publisher.publish(topic: "audio.ignored", payload: [])

                try await eventually("the acknowledged event") { !live.events.isEmpty }
                let event = live.events[0]
                #expect(event.topic == "video.uploaded")
                #expect(event.seq == seq)
                #expect(event.eventID == bytes("e-1"))
                #expect(event.headers == bytes("{}"))
                #expect(event.payload == bytes("v1"))

                // Fire-and-forget: the Publisher holds it until the broker has subscribed,
                // so one message arrives without any retry loop.
                try publisher.fireAndForget(topic: "video.watched", payload: bytes("w"))
                try await eventually("the fire-and-forget event") { live.events.count > 1 }
                let ff = live.events[1]
                #expect(ff.topic == "video.watched" && ff.eventID.isEmpty && ff.seq > seq)

                let stats = try await broker.stats()
                #expect(stats.acked == 3 && stats.deduplicated == 1 && stats.accepted >= 3)
                #expect(stats.fsyncs > 0 && stats.journalBytes > 0 && stats.durableSeq >= seq)
                #expect(await broker.stop() == 0)
            }
        }
    }

    /// Retries racing their originals (fsync=always): a retry can arrive in the
    /// same batch, after its batch was handed to the syncer, or once it is durable.
    /// Every one gets an ACK with its original's seq; none is stored twice.
    @Test func retriesRacingTheirOriginalsAreAllAcked() async throws {
        let broker = try await BrokerHarness(arguments: ["--fsync", "always"])
        let ctx = try Context(defaultLingerMilliseconds: 0)
        let dealer = try ctx.socket(.dealer)
        try dealer.set(.receiveTimeout(milliseconds: 10_000))
        try dealer.connect(broker.ingest)
        let pairs = 300
        for i in 0..<pairs {
            let frames = IngestCodec.Publish(eventID: bytes("race-\(i)"), topic: "race.test", payload: bytes("p"))
                .frames
            try dealer.send(multipart: frames)
            if i % 3 == 1 { usleep(300) }  // let some originals reach the syncer first
            try dealer.send(multipart: frames)
        }
        var seqs: [String: [UInt64]] = [:]
        for _ in 0..<(2 * pairs) {
            let reply = try #require(try await dealer.receiveOffPool(), "an ACK for every publish")
            guard case .acks(let acks) = IngestCodec.decodeReply(reply), acks.count == 1 else {
                Issue.record("not a single ACK: \(reply)")
                continue
            }
            seqs[String(decoding: acks[0].eventID, as: UTF8.self), default: []].append(acks[0].seq)
        }
        #expect(seqs.count == pairs)
        #expect(seqs.values.allSatisfy { $0.count == 2 && $0[0] == $0[1] })
        let stats = try await broker.stats()
        #expect(stats.accepted == UInt64(pairs) && stats.deduplicated == UInt64(pairs))
        dealer.close()
        #expect(await broker.stop() == 0)
    }

    @Test func statsCommandAndPrometheusEndpoint() async throws {
        let broker = try await BrokerHarness()
        let cli = try MetroProcess(["broker", "stats", "--consume", broker.consume])
        #expect(await cli.waitForExit() == 0)
        try await waitFor("stats output") { cli.stdoutLines.contains { $0.contains("\"headSeq\"") } }

        let text = try await httpGet(broker.endpoints["metrics"]!, path: "/metrics")
        #expect(text.hasPrefix("HTTP/1.") && text.contains(" 200 OK\r\n"))
        #expect(text.lowercased().contains("content-type: text/plain; version=0.0.4"))
        #expect(text.contains("# TYPE metro_broker_received_total counter\nmetro_broker_received_total 0\n"))
        #expect(text.contains("metro_broker_dropped_total{cause=\"events_hwm\"} 0"))
        let missing = try await httpGet(broker.endpoints["metrics"]!, path: "/nothing")
        #expect(missing.contains(" 404 Not Found\r\n"))
        // Garbage, binary and a half request on the HTTP port: each gets an error
        // or a closed connection, and the endpoint keeps serving.
        var rng = SplitMix64(seed: 0x6874_7470)
        for request in [
            Array("NOT HTTP AT ALL\r\n\r\n".utf8), (0..<2000).map { _ in UInt8.random(in: 0...255, using: &rng) },
            Array("GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\nabc".utf8),
            Array("GET /metrics".utf8),
        ] {
            _ = try await tcpExchange(broker.endpoints["metrics"]!, request)
        }
        #expect(try await httpGet(broker.endpoints["metrics"]!, path: "/metrics").contains(" 200 OK\r\n"))
        #expect(await broker.stop() == 0)
    }

    /// The metrics endpoint binds when the service group runs: a taken port must
    /// still fail the start (no ready line, the bind error naming the endpoint,
    /// status 78 = EX_CONFIG, which `metro up` does not restart), and the
    /// broker's loop must stop with it rather than keep the process alive.
    @Test func aTakenMetricsPortFailsTheStart() async throws {
        let first = try await BrokerHarness()
        let dir = try TemporaryDirectory()
        let second = try MetroProcess([
            "broker", "--ingest", "tcp://127.0.0.1:*", "--publish", "tcp://127.0.0.1:*",
            "--events", "tcp://127.0.0.1:*", "--consume", "tcp://127.0.0.1:*",
            "--metrics", first.endpoints["metrics"]!, "--data-dir", dir.url.path,
        ])
        await #expect(throws: MetroProcessError.self) { _ = try await second.waitUntilReady() }
        #expect(await second.waitForExit() == 78)
        #expect(second.stderrText.contains("Address already in use"))
        #expect(
            second.stderrText.contains("cannot bind metrics \(first.endpoints["metrics"]!)"), "\(second.stderrText)")
        #expect(await first.stop() == 0)
    }

    @Test func heartbeatsCarryTheHeadSeq() async throws {
        let broker = try await BrokerHarness(config: "heartbeatIntervalMs: 50\n")
        let publisher = try Publisher(.init(ingest: broker.ingest))
        try await closing(publisher) {
            let seq = try await publisher.publish(topic: "a.b", payload: [1])
            let subscriber = try Subscriber(.init(events: broker.events, prefixes: []))
            try await closing(subscriber) {
                _ = try await subscriber.waitUntilLive()
                try await eventually("a heartbeat with the head seq", timeout: .seconds(10)) {
                    subscriber.headSeq >= seq
                }
                #expect(await broker.stop() == 0)
            }
        }
    }
}

extension BrokerSystemTests {
    @Test(arguments: ["always", "interval", "never"])
    func everyFsyncPolicyAcknowledges(policy: String) async throws {
        let broker = try await BrokerHarness(
            config: "journal:\n  fsyncIntervalMs: 5\n", arguments: ["--fsync", policy])
        let publisher = try Publisher(.init(ingest: broker.ingest))
        try await closing(publisher) {
            var last: UInt64 = 0
            for i in 0..<20 { last = try await publisher.publish(topic: "policy.test", payload: bytes("\(i)")) }
            #expect(last == 20)
            if policy == "never" {
                #expect(try await broker.stats().fsyncs == 0)
            } else {
                try await eventually("an fsync") { try await broker.stats().fsyncs > 0 }
            }
            #expect(await broker.stop() == 0)
        }
    }
}

extension BrokerSystemTests {
    @Test func theCheckedInConfigurationLoads() async throws {
        let config = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Broker/broker.yaml").path
        let broker = try await BrokerHarness(arguments: ["--config", config])
        #expect(try await broker.stats().segments == 1)
        #expect(await broker.stop() == 0)
    }
}

/// docs/protocol.md's pyzmq session (§4.4.4), run against a real broker.
@Suite struct BrokerDocumentedExampleTests {
    @Test(.enabled("needs python3 with pyzmq") { await DocumentedExample.pyzmqAvailable })
    func thePyzmqSessionOfSection4Runs() async throws {
        let broker = try await BrokerHarness()
        let out = try await DocumentedExample.run(
            after: "#### 4.4.4",
            replacing: ["tcp://127.0.0.1:7703": broker.events, "tcp://127.0.0.1:7701": broker.ingest])
        #expect(out.contains("event 1 {'user': 'u1'} {'video': 'v1'}"))
    }

    @Test(.enabled("needs python3 with pyzmq") { await DocumentedExample.pyzmqAvailable })
    func thePyzmqPublishExamplesOfSection42Run() async throws {
        let broker = try await BrokerHarness()
        let single = try await DocumentedExample.run(
            after: "#### 4.2.4", replacing: ["tcp://127.0.0.1:7701": broker.ingest])
        #expect(single.hasPrefix("acked "), "§4.2.4 says so on success: \(single)")
        let batch = try await DocumentedExample.run(
            after: "#### 4.2.5", replacing: ["tcp://127.0.0.1:7701": broker.ingest])
        #expect(batch.contains("acked ['batch-0', 'batch-2'] errors {'batch-1': '106'}"))
        let packed = try await DocumentedExample.run(
            after: "#### 4.2.6", replacing: ["tcp://127.0.0.1:7701": broker.ingest])
        #expect(packed.contains("acked ['packed-0', 'packed-2'] errors {'packed-1': '106'}"))
        let stats = try await broker.stats()
        #expect(stats.accepted == 5 && stats.rejected == 2 && stats.acked == 5)
        #expect(await broker.stop() == 0)
    }
}

/// docs/protocol.md §4.3's fire-and-forget example, run as is: both events arrive.
/// (Its earlier form connected a PUB and sent at once, and lost both.)
@Suite struct FireAndForgetDocumentedExampleTests {
    @Test(.enabled("needs python3 with pyzmq") { await DocumentedExample.pyzmqAvailable })
    func theFireAndForgetExampleOfSection43LosesNothing() async throws {
        let broker = try await BrokerHarness()
        let out = try await DocumentedExample.run(
            after: "### 4.3 Fire-and-forget", replacing: ["tcp://127.0.0.1:7702": broker.publish])
        #expect(out.contains("sent 2"))
        try await waitFor("both events journaled", timeout: .seconds(10)) {
            try await broker.stats().accepted == 2
        }
        #expect(await broker.stop() == 0)
    }
}

/// Batches through the MetroKit Publisher and from a raw DEALER (§4.2.1).
@Suite(.serialized) struct BrokerBatchTests {
    @Test func thePublisherBatchesConcurrentPublishes() async throws {
        let broker = try await BrokerHarness()
        // The test counts requests: a retry after a late ACK (the suites run in
        // parallel on a loaded machine) would add one, so none may fire.
        var options = Publisher.Options(ingest: broker.ingest)
        options.ackTimeout = .seconds(30)
        let publisher = try Publisher(options)
        try await closing(publisher) {
            let seqs = try await withThrowingTaskGroup(of: UInt64.self) { group in
                for i in 0..<2000 {
                    group.addTask {
                        try await publisher.publish(
                            topic: "batch.many", payload: bytes("\(i)"), eventID: bytes("m-\(i)"))
                    }
                }
                var all: [UInt64] = []
                for try await seq in group { all.append(seq) }
                return all
            }
            #expect(Set(seqs).count == 2000)
            let stats = try await broker.stats()
            #expect(stats.accepted == 2000 && stats.acked == 2000)
            // Far fewer requests than events: the publisher sent batches.
            #expect(stats.received < 2000)
            #expect(await broker.stop() == 0)
        }
    }

    /// Packed requests stay under the broker's frame limit (`maxPayloadBytes` +
    /// 64 KiB, §2.6), whatever the events: with a 1 KiB payload limit, 100 events of
    /// 1000 bytes would make one 100 KB frame, and an event with 40 KB of headers
    /// plus its payload is larger than a batch may be. Nothing is disconnected and
    /// everything is acknowledged.
    @Test func thePublisherKeepsPackedRequestsUnderTheFrameLimit() async throws {
        let broker = try await BrokerHarness(config: BrokerSystemTests.smallLimits)
        let publisher = try Publisher(.init(ingest: broker.ingest))
        try await closing(publisher) {
            let payload = [UInt8](repeating: 7, count: 1000)
            try await withThrowingTaskGroup(of: UInt64.self) { group in
                for i in 0..<100 {
                    group.addTask {
                        try await publisher.publish(topic: "batch.big", payload: payload, eventID: bytes("b-\(i)"))
                    }
                }
                group.addTask {
                    try await publisher.publish(
                        topic: "batch.big", payload: payload, headers: [UInt8](repeating: 32, count: 40_000),
                        eventID: bytes("b-headers"))
                }
                for try await _ in group {}
            }
            let stats = try await broker.stats()
            #expect(stats.accepted == 101 && stats.acked == 101)
            #expect(stats.disconnects["ingest", default: 0] == 0)
            // At most 60 of them fit in one 60 KiB request, and the large one goes alone.
            #expect(stats.received >= 3)
            #expect(await broker.stop() == 0)
        }
    }

    /// A packed batch (§4.2.6) is checked per event, answered with ACK-PACKED, and
    /// deduplicated like any other; its events go live as ordinary events.
    @Test func aPackedBatchIsCheckedPerEventAndStoredOnce() async throws {
        let broker = try await BrokerHarness()
        let live = try await LiveCollector(events: broker.events, prefixes: ["packed."])
        try await closing(live) {
            let ctx = try Context(defaultLingerMilliseconds: 0)
            let dealer = try ctx.socket(.dealer)
            defer { dealer.close() }
            try dealer.set(.receiveTimeout(milliseconds: 10_000))
            try dealer.connect(broker.ingest)
            var events = (0..<20).map {
                IngestCodec.Publish(
                    eventID: bytes("k-\($0)"), topic: "packed.t", headers: bytes("{\"n\":\"\($0)\"}"),
                    payload: bytes("\($0)"))
            }
            events[5].topic = "packed..bad"
            var acked: [String: UInt64] = [:]
            var errors: [String: WireErrorCode] = [:]
            /// Reads replies until `expected` events are answered; every ACK is packed.
            func collect(_ expected: Int) async throws {
                var got = 0
                while got < expected {
                    let reply = try #require(try await dealer.receiveOffPool())
                    switch IngestCodec.decodeReply(reply) {
                    case .acks(let acks)?:
                        #expect(reply[1] == PackedEvents.ackCommand)
                        for a in acks {
                            let id = String(decoding: a.eventID, as: UTF8.self)
                            if let seq = acked[id] { #expect(seq == a.seq) } else { acked[id] = a.seq }
                        }
                        got += acks.count
                    case .error(let e, let id?)?:
                        errors[String(decoding: id, as: UTF8.self)] = e.code
                        got += 1
                    default:
                        Issue.record("unexpected reply \(reply)")
                        return
                    }
                }
            }
            try dealer.send(multipart: PackedEvents.frames(publishing: events))
            try await collect(20)
            #expect(acked.count == 19 && errors == ["k-5": .invalidTopic])
            // The same batch again: nothing new is stored, the seqs are the originals.
            try dealer.send(multipart: PackedEvents.frames(publishing: events))
            try await collect(20)
            #expect(acked.count == 19)
            try await eventually("the 19 stored events, live") { live.events.count == 19 }
            for (i, e) in live.events.enumerated() {
                let n = i < 5 ? i : i + 1
                #expect(e.topic == "packed.t" && e.payload == bytes("\(n)") && e.headers == bytes("{\"n\":\"\(n)\"}"))
                #expect(e.seq == acked["k-\(n)"] && e.eventID == bytes("k-\(n)"))
            }
            let stats = try await broker.stats()
            #expect(stats.accepted == 19 && stats.deduplicated == 19 && stats.rejected == 2 && stats.acked == 38)
            #expect(await broker.stop() == 0)
        }
    }

    /// A batch whose ACKs are dropped (the client is gone) and a batch with a
    /// duplicate inside it: every event is stored once.
    @Test func aRetriedBatchIsNotStoredTwice() async throws {
        let broker = try await BrokerHarness()
        let ctx = try Context(defaultLingerMilliseconds: 0)
        let dealer = try ctx.socket(.dealer)
        try dealer.set(.receiveTimeout(milliseconds: 10_000))
        try dealer.connect(broker.ingest)
        let events = (0..<10).map { IngestCodec.Publish(eventID: bytes("r-\($0)"), topic: "batch.retry", payload: []) }
        var pairs: [String: UInt64] = [:]
        func collect(_ expected: Int) async throws {
            var got = 0
            while got < expected {
                let reply = try #require(try await dealer.receiveOffPool())
                guard case .acks(let acks)? = IngestCodec.decodeReply(reply) else {
                    Issue.record("not an ACK: \(reply)")
                    return
                }
                for a in acks {
                    let id = String(decoding: a.eventID, as: UTF8.self)
                    if let seq = pairs[id] { #expect(seq == a.seq) } else { pairs[id] = a.seq }
                }
                got += acks.count
            }
        }
        try dealer.send(multipart: IngestCodec.frames(publishing: events))
        try await collect(10)
        // The whole batch again, then a batch holding one id twice.
        try dealer.send(multipart: IngestCodec.frames(publishing: events))
        try await collect(10)
        let extra = IngestCodec.Publish(eventID: bytes("r-new"), topic: "batch.retry", payload: [])
        try dealer.send(multipart: IngestCodec.frames(publishing: [extra, events[3], extra]))
        try await collect(3)
        #expect(pairs.count == 11)
        let stats = try await broker.stats()
        #expect(stats.accepted == 11 && stats.deduplicated == 12 && stats.acked == 23)
        dealer.close()
        #expect(await broker.stop() == 0)
    }
}
