import Foundation
import MetroProtocol
import MetroTestKit
import Testing
import ZeroMQ

extension BrokerSystemTests {
    /// §4.2.1 "Order": pipelined requests on one connection get seqs in send order,
    /// batches in batch order, whatever order their ACKs come back in.
    @Test func pipelinedPublishesOnOneConnectionGetSeqsInSendOrder() async throws {
        let broker = try await BrokerHarness()
        let dealer = try testContext.socket(.dealer)
        defer { dealer.close() }
        try dealer.set(.receiveTimeout(milliseconds: 10_000))
        try dealer.connect(broker.ingest)
        var sent: [[UInt8]] = []
        for i in 0..<200 {
            if i % 50 == 25 {  // a batch of 8 now and then
                let batch = (0..<8).map {
                    IngestCodec.Publish(eventID: bytes("o-\(i)-\($0)"), topic: "order.test", payload: [1])
                }
                try dealer.send(multipart: IngestCodec.frames(publishing: batch))
                sent += batch.map(\.eventID)
            } else {
                let id = bytes("o-\(i)")
                try dealer.send(multipart: IngestCodec.Publish(eventID: id, topic: "order.test", payload: [1]).frames)
                sent.append(id)
            }
        }
        var seqs: [[UInt8]: UInt64] = [:]
        while seqs.count < sent.count {
            let reply = try #require(try await dealer.receiveOffPool(), "ACKs for \(seqs.count) of \(sent.count)")
            guard case .acks(let acks)? = IngestCodec.decodeReply(reply) else {
                Issue.record("not an ACK: \(reply)")
                return
            }
            for a in acks { seqs[a.eventID] = a.seq }
        }
        let inSendOrder = sent.map { seqs[$0]! }
        #expect(inSendOrder == inSendOrder.sorted() && Set(inSendOrder).count == sent.count)
        #expect(await broker.stop() == 0)
    }

    /// §4.4.2 "Markers are not events": a subscriber of the empty prefix receives
    /// heartbeats and other subscribers' hellos, each carrying the head seq, which
    /// is the seq of an event it already has.
    @Test func anEmptyPrefixSubscriberAlsoReceivesMarkersCarryingTheHeadSeq() async throws {
        let broker = try await BrokerHarness()
        let all = try testContext.socket(.sub)
        defer { all.close() }
        try all.set(.receiveTimeout(milliseconds: 10_000))
        try all.connect(broker.events)
        try all.subscribe("")
        try all.subscribe(Hello.topic(token: "all"))
        func next() async throws -> LiveEvent {
            let frames = try #require(try await all.receiveOffPool(), "a message on the events socket")
            return try #require(LiveEvent(frames: frames))
        }
        var first = try await next()
        while first.topic != Hello.topic(token: "all") { first = try await next() }  // heartbeats may come first
        #expect(first.seq == 0)

        let ack = try await request(
            on: broker.ingest, IngestCodec.Publish(eventID: bytes("m-1"), topic: "video.x", payload: [1]).frames)
        guard case .acks(let acks)? = IngestCodec.decodeReply(ack) else {
            Issue.record("no ACK: \(ack)")
            return
        }
        let seq = acks[0].seq
        var event = try await next()
        while event.topic != "video.x" {  // a heartbeat sent before the event: seq 0
            #expect(event.isHeartbeat && event.seq == 0)
            event = try await next()
        }
        #expect(event.seq == seq)

        // Another subscriber's hello reaches this one too, with the head seq: the event's.
        let other = try testContext.socket(.sub)
        defer { other.close() }
        try other.connect(broker.events)
        try other.subscribe("video.")
        try other.subscribe(Hello.topic(token: "other"))
        var sawHello = false, sawHeartbeat = false
        while !(sawHello && sawHeartbeat) {
            let marker = try await next()
            if marker.topic == Hello.topic(token: "other") { sawHello = true }
            if marker.isHeartbeat { sawHeartbeat = true }
            #expect(marker.topic.hasPrefix("$metro."), "\(marker.topic)")
            #expect(marker.seq == seq && marker.eventID.isEmpty && marker.payload.isEmpty, "\(marker.topic)")
        }
        #expect(await broker.stop() == 0)
    }

    /// §4.5: STATS `groups` is an object by group name of six numbers, and
    /// `pending` counts events held by members and events waiting (here a NAKed one).
    @Test func statsGroupsHoldHeldAndWaitingEventsAsPending() async throws {
        let broker = try await BrokerHarness()
        for i in 0..<3 {
            _ = try await request(
                on: broker.ingest, IngestCodec.Publish(eventID: bytes("g-\(i)"), topic: "job.x", payload: [1]).frames)
        }
        let member = try testContext.socket(.dealer)
        defer { member.close() }
        try member.set(.receiveTimeout(milliseconds: 10_000))
        try member.connect(broker.consume)
        func deliver() async throws -> UInt64 {
            while true {
                let frames = try #require(try await member.receiveOffPool(), "a DELIVER")
                if case .deliver(_, let seq, _, _)? = GroupCodec.decodeReply(frames) { return seq }
            }
        }
        try member.send(
            multipart: GroupCodec.Request.join(group: "workers", member: "m", credit: 1, config: .init()).frames)
        let first = try await deliver()
        try member.send(multipart: GroupCodec.Request.nak(group: "workers", seq: first, delayMs: 600_000).frames)
        // 2: the delayed event counts against the read-ahead (`wantsEvents`) while it waits.
        try member.send(multipart: GroupCodec.Request.grant(group: "workers", credit: 2).frames)
        _ = try await deliver()
        try await eventually("one held and one waiting") { try await broker.stats().groups["workers"]?.pending == 2 }

        let raw = try await request(on: broker.consume, ConsumeCodec.requestFrames(.stats))[2]
        let json = try #require(try JSONSerialization.jsonObject(with: Data(raw)) as? [String: Any])
        let groups = try #require(json["groups"] as? [String: [String: Any]])
        #expect(Set(groups.keys) == ["workers"])
        #expect(
            Set(groups["workers"]!.keys) == [
                "members", "pending", "redelivered", "deadLettered", "expired", "position", "lag", "damagedSkipped",
            ], "`stalled` only while the group waits before a damaged record (§4.10.4)")
        let g = try #require(try await broker.stats().groups["workers"])
        #expect(g.members == 1 && g.pending == 2 && g.redelivered == 0 && g.lag == 3 - g.position)
        #expect(await broker.stop() == 0)
    }
}
