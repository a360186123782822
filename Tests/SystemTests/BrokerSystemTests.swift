import Foundation
import MetroKit
import MetroProtocol
import Testing
import ZeroMQ

/// Real brokers on loopback. One serialized suite: on a 2-core box, brokers
/// under load in parallel would only measure each other.
@Suite(.serialized) struct BrokerSystemTests {
    @Test func acknowledgedPublishReachesASubscriberAfterItsHello() async throws {
        let broker = try BrokerHarness()
        let subscriber = try Subscriber(.init(events: broker.events, prefixes: ["video."]))
        defer { subscriber.close() }
        let head = try await subscriber.waitUntilLive()
        let publisher = try Publisher(.init(ingest: broker.ingest, publish: broker.publish))
        defer { publisher.close() }

        let seq = try await publisher.publish(
            topic: "video.uploaded", payload: bytes("v1"), headers: bytes("{}"),
            eventID: bytes("e-1"))
        #expect(seq > head)
        let again = try await publisher.publish(topic: "video.uploaded", payload: bytes("v1"), eventID: bytes("e-1"))
        #expect(again == seq)
        _ = try await publisher.publish(topic: "audio.ignored", payload: [])

        let received = Locked([LiveEvent]())
        let stream = subscriber.events
        let collector = Task { for await e in stream { received.withLock { $0.append(e) } } }
        defer { collector.cancel() }
        try await eventually("the acknowledged event") { received.withLock { !$0.isEmpty } }
        let event = received.withLock { $0[0] }
        #expect(event.topic == "video.uploaded")
        #expect(event.seq == seq)
        #expect(event.eventID == bytes("e-1"))
        #expect(event.headers == bytes("{}"))
        #expect(event.payload == bytes("v1"))

        // Fire-and-forget: the Publisher holds it until the broker has subscribed,
        // so one message arrives without any retry loop.
        try publisher.fireAndForget(topic: "video.watched", payload: bytes("w"))
        try await eventually("the fire-and-forget event") { received.withLock { $0.count > 1 } }
        let fired: LiveEvent? = received.withLock { $0[1] }
        let ff = try #require(fired)
        #expect(ff.topic == "video.watched" && ff.eventID.isEmpty && ff.seq > seq)

        let stats = try broker.stats()
        #expect(stats.acked == 3 && stats.deduplicated == 1 && stats.accepted >= 3)
        #expect(stats.fsyncs > 0 && stats.journalBytes > 0 && stats.durableSeq >= seq)
        #expect(broker.stop() == 0)
    }

    /// Retries racing their originals (fsync=always): a retry can arrive in the
    /// same batch, after its batch was handed to the syncer, or once it is durable.
    /// Every one gets an ACK with its original's seq; none is stored twice.
    @Test func retriesRacingTheirOriginalsAreAllAcked() throws {
        let broker = try BrokerHarness(arguments: ["--fsync", "always"])
        let ctx = try Context(defaultLingerMilliseconds: 0)
        let dealer = try ctx.socket(.dealer)
        try dealer.set(.receiveTimeout(milliseconds: 10_000))
        try dealer.connect(broker.ingest)
        let pairs = 300
        for i in 0..<pairs {
            let frames = IngestCodec.Publish(eventID: bytes("race-\(i)"), topic: "race.test", payload: bytes("p")).frames
            try dealer.send(multipart: frames)
            if i % 3 == 1 { usleep(300) }  // let some originals reach the syncer first
            try dealer.send(multipart: frames)
        }
        var seqs: [String: [UInt64]] = [:]
        for _ in 0..<(2 * pairs) {
            let reply = try #require(try dealer.receiveMultipart(), "an ACK for every publish")
            guard case .ack(let id, let seq) = IngestCodec.decodeReply(reply) else {
                Issue.record("not an ACK: \(reply)")
                continue
            }
            seqs[String(decoding: id, as: UTF8.self), default: []].append(seq)
        }
        #expect(seqs.count == pairs)
        #expect(seqs.values.allSatisfy { $0.count == 2 && $0[0] == $0[1] })
        let stats = try broker.stats()
        #expect(stats.accepted == UInt64(pairs) && stats.deduplicated == UInt64(pairs))
        dealer.close()
        #expect(broker.stop() == 0)
    }

    @Test func statsCommandAndPrometheusEndpoint() async throws {
        let broker = try BrokerHarness()
        let cli = try MetroProcess(["broker", "stats", "--consume", broker.consume])
        #expect(cli.waitForExit() == 0)
        try waitFor("stats output") { cli.stdoutLines.contains { $0.contains("\"headSeq\"") } }

        let text = try httpGet(broker.endpoints["metrics"]!, path: "/metrics")
        #expect(text.hasPrefix("HTTP/1.0 200 OK"))
        #expect(text.contains("metro_broker_received_total 0"))
        #expect(text.contains("metro_broker_dropped_total{cause=\"events_hwm\"} 0"))
        #expect(broker.stop() == 0)
    }

    @Test func heartbeatsCarryTheHeadSeq() async throws {
        let broker = try BrokerHarness(config: "heartbeatIntervalMs: 50\n")
        let publisher = try Publisher(.init(ingest: broker.ingest))
        defer { publisher.close() }
        let seq = try await publisher.publish(topic: "a.b", payload: [1])
        let subscriber = try Subscriber(.init(events: broker.events, prefixes: []))
        defer { subscriber.close() }
        _ = try await subscriber.waitUntilLive()
        try await eventually("a heartbeat with the head seq", timeout: .seconds(10)) { subscriber.headSeq >= seq }
        #expect(broker.stop() == 0)
    }
}

extension BrokerSystemTests {
    @Test(arguments: ["always", "interval", "never"])
    func everyFsyncPolicyAcknowledges(policy: String) async throws {
        let broker = try BrokerHarness(config: "journal:\n  fsyncIntervalMs: 5\n", arguments: ["--fsync", policy])
        let publisher = try Publisher(.init(ingest: broker.ingest))
        defer { publisher.close() }
        var last: UInt64 = 0
        for i in 0..<20 { last = try await publisher.publish(topic: "policy.test", payload: bytes("\(i)")) }
        #expect(last == 20)
        if policy == "never" {
            #expect(try broker.stats().fsyncs == 0)
        } else {
            try await eventually("an fsync") { try broker.stats().fsyncs > 0 }
        }
        #expect(broker.stop() == 0)
    }
}

extension BrokerSystemTests {
    @Test func theCheckedInConfigurationLoads() throws {
        let config = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Broker/broker.yaml").path
        let broker = try BrokerHarness(arguments: ["--config", config])
        #expect(try broker.stats().segments == 1)
        #expect(broker.stop() == 0)
    }
}

/// docs/protocol.md's pyzmq session (§4.4.4), run against a real broker.
@Suite struct BrokerDocumentedExampleTests {
    @Test(.enabled(if: DocumentedExample.pyzmqAvailable, "needs python3 with pyzmq"))
    func thePyzmqSessionOfSection4Runs() throws {
        let broker = try BrokerHarness()
        let out = try DocumentedExample.run(
            after: "#### 4.4.4", replacing: ["tcp://127.0.0.1:7703": broker.events, "tcp://127.0.0.1:7701": broker.ingest])
        #expect(out.contains("event 1 {'user': 'u1'} {'video': 'v1'}"))
    }
}
