import Foundation
import MetroKit
import MetroProtocol
import MetroTestKit
import Testing
import ZeroMQ

/// Packed delivery (protocol.md §4.10.2) against a real broker, from a raw DEALER
/// as a foreign client would speak it: DELIVER-PACKED bodies within the member's
/// `batchBytes`, ACKS with its credit, 203 naming exactly the seqs not held, and
/// a packed member next to a per-event one in the same group.
extension BrokerSystemTests {
    @Test func aPackedMemberGetsBodiesWithinItsBatchBytesAndAcksThemInOneMessage() async throws {
        let broker = try await BrokerHarness(config: Self.groupConfig)
        let v = WireProtocol.versionBytes, g = bytes("packed")
        let s = try testContext.socket(.dealer)
        defer { s.close() }
        try s.set(.receiveTimeout(milliseconds: 5000))
        try s.connect(broker.consume)
        try s.send(
            multipart: GroupCodec.Request.join(
                group: "packed", member: "p-1", credit: 20,
                config: .init(prefixes: ["job."], batchBytes: 400)
            ).frames)
        let joined = try #require(try await s.receiveOffPool())
        guard case .joined(let j)? = GroupCodec.decodeReply(joined) else {
            Issue.record("no JOINED: \(joined)")
            return
        }
        #expect(j.batchBytes == 400)

        let publisher = try Publisher(.init(ingest: broker.ingest))
        try await closing(publisher) {
            // 25 events of ~150-byte records, and one of 1,000 bytes (alone in its body).
            // Sorted: many publishes are in flight, so the seqs need not follow the index.
            let seqs = try await publishMany(publisher, count: 25, topics: ["job.a"], payloadBytes: 100).sorted()
            let big = try await publisher.publish(
                topic: "job.a", payload: [UInt8](repeating: 7, count: 1000), eventID: bytes("big"))
            // Credit 20: exactly the first 20 come, in bodies of ≤ 400 record bytes.
            var got: [PackedDelivery.Delivery] = []
            while got.count < 20 {
                let m = try #require(try await s.receiveOffPool())
                guard case .deliverPacked(let group, let body)? = GroupCodec.decodeReply(m) else {
                    Issue.record("not DELIVER-PACKED: \(m.map { String(decoding: $0, as: UTF8.self) })")
                    return
                }
                #expect(group == "packed")
                #expect(body.records.count <= 400, "a body over batchBytes: \(body.records.count)")
                got += try #require(body.deliveries())
            }
            #expect(got.map(\.seq) == Array(seqs.prefix(20)) && got.allSatisfy { $0.attempt == 1 })
            try s.set(.receiveTimeout(milliseconds: 300))
            #expect(try await s.receiveOffPool() == nil, "more than the credit delivered")
            try s.set(.receiveTimeout(milliseconds: 5000))

            // ACKS of 19 held seqs, one twice, and one never delivered; credit 0.
            let acked = Array(got.prefix(19).map(\.seq))
            let answer = try await ask(
                s, GroupCodec.Request.acks(group: "packed", credit: 0, seqs: acked + [acked[0], 999_999]).frames)
            #expect(answer.count == 6 && answer[2] == bytes("203"))
            #expect(answer[4] == g)
            #expect(answer[5] == BigEndian.bytes(acked[0]) + BigEndian.bytes(999_999), "exactly the seqs not held")
            try await eventually("19 ACKed, 1 pending") {
                try await broker.stats().groups["packed"]?.pending == 1
            }
            // ACKS with credit only: the remaining 5 small events and the big one.
            try s.send(multipart: GroupCodec.Request.acks(group: "packed", credit: 10, seqs: []).frames)
            var rest: [PackedDelivery.Delivery] = []
            while rest.count < 6 {
                let m = try #require(try await s.receiveOffPool())
                guard case .deliverPacked(_, let body)? = GroupCodec.decodeReply(m) else {
                    Issue.record("not DELIVER-PACKED")
                    return
                }
                let ds = try #require(body.deliveries())
                if ds.contains(where: { $0.seq == big }) { #expect(ds.count == 1, "the large event goes alone") }
                rest += ds
            }
            #expect(rest.map(\.seq) == Array(seqs.suffix(5)) + [big])
            // A malformed ACKS is 101 with the group, and the member stays.
            let bad = try await ask(s, [v, bytes("ACKS"), g, [0, 0, 0, 0], [1, 2, 3]])
            #expect(bad[2] == bytes("101") && bad.last == g)
            try s.send(
                multipart: GroupCodec.Request.acks(
                    group: "packed", credit: 0, seqs: [got[19].seq] + rest.map(\.seq)
                ).frames)
            try await eventually("all ACKed") { try await broker.stats().groups["packed"]?.pending == 0 }
            let stats = try #require(try await broker.stats().groups["packed"])
            #expect(stats.redelivered == 0 && stats.members == 1)
        }
        #expect(await broker.stop() == 0)
    }

    @Test func packedAndPerEventMembersShareOneGroup() async throws {
        let broker = try await BrokerHarness(config: Self.groupConfig)
        var plainOptions = Consumer.Options(
            consume: broker.consume, group: "mixed", member: "plain", config: .init(prefixes: ["job."]))
        plainOptions.packed = false
        let plain = try Consumer(plainOptions)
        let packed = try consumer(broker, "packed", group: "mixed")
        try await closing(plain, packed) {
            let cp = Collector(plain), ck = Collector(packed)
            let publisher = try Publisher(.init(ingest: broker.ingest))
            try await closing(publisher) {
                let seqs = try await publishMany(publisher, count: 3_000, topics: ["job.a"])
                try await eventually("all ACKed") {
                    guard cp.count + ck.count >= 3_000 else { return false }
                    return try await broker.stats().groups["mixed"]?.pending == 0
                }
                let all = cp.seqs + ck.seqs
                #expect(all.count == 3_000 && Set(all) == Set(seqs), "each event once, to one member")
                #expect(cp.count > 0 && ck.count > 0, "both got work: \(cp.count) / \(ck.count)")
                #expect(try await broker.stats().groups["mixed"]?.redelivered == 0)
            }
        }
        #expect(await broker.stop() == 0)
    }

    private func ask(_ s: Socket, _ frames: [[UInt8]]) async throws -> [[UInt8]] {
        try s.send(multipart: frames)
        return try #require(try await s.receiveOffPool())
    }
}

extension BrokerDocumentedExampleTests {
    @Test(.enabled("needs python3 with pyzmq") { await DocumentedExample.pyzmqAvailable })
    func thePyzmqPackedGroupExampleOfSection4102Runs() async throws {
        let broker = try await BrokerHarness()
        let out = try await DocumentedExample.run(
            after: "#### 4.10.2",
            replacing: ["tcp://127.0.0.1:7701": broker.ingest, "tcp://127.0.0.1:7704": broker.consume])
        #expect(out.trimmingCharacters(in: .whitespacesAndNewlines) == "handled 100 events in 2 messages", "\(out)")
        let g = try #require(try await broker.stats().groups["encoders"])
        #expect(g.pending == 0 && g.redelivered == 0)
        #expect(await broker.stop() == 0)
    }
}
