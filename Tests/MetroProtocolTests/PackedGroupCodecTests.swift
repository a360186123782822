import MetroProtocol
import Testing

/// ACKS and DELIVER-PACKED (protocol.md §4.10.2): the codecs, their limits and
/// what a damaged body is.
@Suite struct PackedGroupCodecTests {
    func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    func event(_ seq: UInt64, payload: String = "hi") -> LiveEvent {
        LiveEvent(
            topic: "video.uploaded", seq: seq, time: 1_700_000_000_000_000_000, eventID: bytes("e-\(seq)"),
            headers: bytes("{}"), payload: bytes(payload))
    }

    @Test func acksCarriesItsSeqsAndCredit() throws {
        let request = GroupCodec.Request.acks(group: "workers", credit: 3, seqs: [42, 43, 1 << 40])
        let frames = request.frames
        #expect(frames.count == 5)
        #expect(frames[3] == [0, 0, 0, 3])
        #expect(frames[4].count == 24)
        #expect((try? ConsumeCodec.decodeRequest(frames, offset: 0).get()) == .group(request))
        // No seqs: a GRANT in ACKS's shape.
        let none = GroupCodec.Request.acks(group: "workers", credit: 5, seqs: [])
        #expect((try? ConsumeCodec.decodeRequest(none.frames, offset: 0).get()) == .group(none))
    }

    @Test(arguments: [7, 9, 1])
    func acksWithASeqsFrameNotAMultipleOfEightIs101(size: Int) {
        let frames = [bytes("metro/1"), bytes("ACKS"), bytes("g"), [0, 0, 0, 1], [UInt8](repeating: 0, count: size)]
        guard case .failure(let e) = ConsumeCodec.decodeRequest(frames, offset: 0) else {
            Issue.record("accepted")
            return
        }
        #expect(e.error.code == .malformedMessage && e.id == bytes("g"))
    }

    @Test func acksOverTheLimitIs105AndAtTheLimitPasses() {
        let at = [UInt8](repeating: 0, count: 8 * GroupCodec.maxAcksPerMessage)
        let ok = [bytes("metro/1"), bytes("ACKS"), bytes("g"), [0, 0, 0, 0], at]
        #expect((try? ConsumeCodec.decodeRequest(ok, offset: 0).get()) != nil)
        let over = [bytes("metro/1"), bytes("ACKS"), bytes("g"), [0, 0, 0, 0], at + [UInt8](repeating: 0, count: 8)]
        guard case .failure(let e) = ConsumeCodec.decodeRequest(over, offset: 0) else {
            Issue.record("accepted")
            return
        }
        #expect(e.error.code == .tooLarge)
        // A credit frame of 3 bytes is 101.
        let shortCredit = [bytes("metro/1"), bytes("ACKS"), bytes("g"), [0, 0, 0], []]
        guard case .failure(let e2) = ConsumeCodec.decodeRequest(shortCredit, offset: 0) else {
            Issue.record("accepted")
            return
        }
        #expect(e2.error.code == .malformedMessage)
    }

    @Test func deliverPackedRoundTrips() throws {
        var body = PackedDelivery()
        body.append(attempt: 1, event(42))
        body.append(attempt: 3, event(50, payload: ""))
        let reply = GroupCodec.Reply.deliverPacked(group: "workers", body)
        let frames = reply.encode()
        #expect(frames.count == 5 && frames[1] == bytes("DELIVER-PACKED"))
        #expect(frames[3] == [0, 0, 0, 1, 0, 0, 0, 3])
        guard case .deliverPacked(let group, let decoded)? = GroupCodec.decodeReply(frames) else {
            Issue.record("did not decode")
            return
        }
        #expect(group == "workers")
        let deliveries = try #require(decoded.deliveries())
        #expect(deliveries.map(\.seq) == [42, 50])
        #expect(deliveries.map(\.attempt) == [1, 3])
        #expect(deliveries.map(\.event) == [event(42), event(50, payload: "")])
        // The records are the journal's own layout, as in EVENT-PACKED.
        #expect(PackedReplay.events(frames[4]) == [event(42), event(50, payload: "")])
    }

    /// The broker's path: records copied as the journal holds them give the same
    /// body as events encoded one by one, and their topics can be walked.
    @Test func aBodyOfJournalRecordsIsTheBodyOfTheirEvents() {
        var fromEvents = PackedDelivery(), fromRecords = PackedDelivery()
        for (seq, attempt) in [(42, 1), (43, 2)] as [(UInt64, UInt32)] {
            let e = event(seq)
            fromEvents.append(attempt: attempt, e)
            let record = JournalRecord(
                seq: e.seq, time: e.time, eventID: e.eventID, topic: Array(e.topic.utf8), headers: e.headers,
                payload: e.payload)
            fromRecords.append(attempt: attempt, record: record.encoded)
        }
        #expect(fromEvents == fromRecords)
        var topics: [String] = []
        fromRecords.forEachTopic { topics.append(String(decoding: $0, as: UTF8.self)) }
        #expect(topics == ["video.uploaded", "video.uploaded"])
    }

    @Test func aDamagedBodyIsRefusedWhole() throws {
        var body = PackedDelivery()
        body.append(attempt: 1, event(42))
        body.append(attempt: 1, event(43))
        var flipped = body.records
        flipped[flipped.count - 1] ^= 1
        #expect(PackedDelivery(attempts: body.attempts, records: flipped).deliveries() == nil)
        // One attempt too few or too many, a torn record, nothing at all.
        #expect(PackedDelivery(attempts: Array(body.attempts.prefix(4)), records: body.records).deliveries() == nil)
        #expect(PackedDelivery(attempts: body.attempts + [0, 0, 0, 1], records: body.records).deliveries() == nil)
        #expect(PackedDelivery(attempts: body.attempts, records: Array(body.records.dropLast())).deliveries() == nil)
        #expect(PackedDelivery(attempts: [], records: []).deliveries() == nil)
        #expect(PackedDelivery(attempts: [0, 0, 1], records: body.records).deliveries() == nil)
    }

    @Test func batchBytesIsAMemberFieldOfTheConfigWithItsRange() {
        #expect(GroupCodec.Config.decode(bytes(#"{"batchBytes":0}"#)) == .success(.init(batchBytes: 0)))
        #expect(GroupCodec.Config.decode(bytes(#"{"batchBytes":1048576}"#)) == .success(.init(batchBytes: 1 << 20)))
        for bad in [#"{"batchBytes":1048577}"#, #"{"batchBytes":-1}"#] {
            guard case .failure(let e) = GroupCodec.Config.decode(bytes(bad)) else {
                Issue.record("\(bad) accepted")
                continue
            }
            #expect(e.code == .invalidArgument, "\(bad)")
        }
        guard case .failure(let e) = GroupCodec.Config.decode(bytes(#"{"batchBytes":"big"}"#)) else {
            Issue.record("a string accepted")
            return
        }
        #expect(e.code == .invalidJSON)
    }
}
