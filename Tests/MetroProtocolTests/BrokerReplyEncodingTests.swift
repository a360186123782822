import Foundation
import MetroProtocol
import MetroTestSupport
import Testing

/// The broker's typed replies encode to the bytes of protocol.md Appendix A, and
/// every socket's ERROR comes from the one `ErrorReply` encoder.
@Suite struct BrokerReplyEncodingTests {
    static let vectors: [String: [[UInt8]]] = (try? ProtocolVectors.load()) ?? [:]
    func vector(_ name: String) throws -> [[UInt8]] { try #require(Self.vectors[name], "vector \(name) missing") }

    @Test func groupRepliesEncodeToTheVectors() throws {
        let joined = GroupCodec.Joined(
            group: "workers", prefixes: ["video."], ackTimeoutMs: 30000, maxDeliveries: 5, heartbeatMs: 1000,
            position: 41)
        #expect(GroupCodec.Reply.joined(joined).encode() == (try vector("group-joined")))
        let error = GroupCodec.Reply.error(
            WireError(.unknownDelivery, "this member holds no delivery 42 of workers"),
            context: [Array("workers".utf8), BigEndian.bytes(42)])
        let reply = try vector("group-error-unknown-delivery")
        #expect(GroupCodec.decodeReply(error.encode()) == GroupCodec.decodeReply(reply))
        #expect(error.encode().count == reply.count && error.isError)
        #expect(
            GroupCodec.Reply.heartbeat(group: "g").encode() == [
                WireProtocol.versionBytes, bytes("HEARTBEAT"), bytes("g"),
            ])
    }

    @Test func replayRepliesEncodeToTheVectors() throws {
        let caughtUp = ReplayCodec.Reply.caughtUp(id: bytes("r1"), lastSeq: 57)
        #expect(caughtUp.encode() == (try vector("replay-caught-up")))
        let outOfRange = try vector("replay-error-out-of-range")
        let decoded = try #require(ReplayCodec.decodeReply(outOfRange))
        #expect(decoded.encode() == outOfRange)
    }

    @Test func oneErrorEncoderForEverySocket() {
        let e = WireError(.malformedMessage, "bad")
        let plain = ErrorReply.frames(e)
        #expect(plain == [WireProtocol.versionBytes, bytes("ERROR"), bytes("101"), bytes("bad")])
        #expect(RegistryReply.error(e).encode() == plain)
        #expect(IngestCodec.errorFrames(e, eventID: bytes("e-1")) == plain + [bytes("e-1")])
        #expect(ConsumeCodec.RequestError(e, id: bytes("r1")).encode() == plain + [bytes("r1")])
        #expect(ConsumeCodec.Reply.refused(.init(e)).isError)
        #expect(!ConsumeCodec.Reply.stats(BrokerStats()).isError)
    }

    @Test func groupCommandsKnowTheirFrameCounts() {
        for command in GroupCommand.allCases {
            let request: GroupCodec.Request =
                switch command {
                case .join: .join(group: "g", member: "m", credit: 1, config: .init())
                case .grant: .grant(group: "g", credit: 1)
                case .ack: .ack(group: "g", seq: 1)
                case .nak: .nak(group: "g", seq: 1, delayMs: 0)
                case .extend: .extend(group: "g", seq: 1, ms: 1)
                case .reject: .reject(group: "g", seq: 1, reason: "bad input")
                case .heartbeat: .heartbeat(group: "g")
                case .leave: .leave(group: "g")
                case .acks: .acks(group: "g", credit: 2, seqs: [1, 2])
                case .delete: .delete(group: "g")
                case .skipDamaged: .skipDamaged(group: "g", seq: 40)
                }
            #expect(request.command == command)
            #expect(request.frames.count == command.frameCount, "\(command)")
            #expect(
                (try? ConsumeCodec.decodeRequest(request.frames, offset: 0).get()) == .group(request), "\(command)")
            // One frame more or less is 101 with the group name as context.
            guard case .failure(let e) = ConsumeCodec.decodeRequest(request.frames + [[]], offset: 0) else {
                Issue.record("\(command) with a frame too many accepted")
                continue
            }
            #expect(e.error.code == .malformedMessage && e.id == bytes("g"))
        }
    }

    /// DELETED (§4.10.3) as the broker sends it and a client reads it.
    @Test func deletedRoundTrips() {
        let d = GroupCodec.Deleted(group: "probe", prefixes: ["video."], position: 42, pending: 3)
        let frames = GroupCodec.Reply.deleted(d).encode()
        #expect(frames.count == 4 && frames[1] == bytes("DELETED") && frames[2] == bytes("probe"))
        #expect(
            String(decoding: frames[3], as: UTF8.self)
                == #"{"group":"probe","pending":3,"position":42,"prefixes":["video."]}"#)
        #expect(GroupCodec.decodeReply(frames) == .deleted(d))
        #expect(GroupCodec.decodeReply(Array(frames.prefix(3))) == nil)
    }

    @Test func groupStartIsAnEnumOnTheWireAsText() throws {
        let config = GroupCodec.Config(start: .latest)
        let json = WireJSON.encode(config)
        #expect(String(decoding: json, as: UTF8.self) == #"{"start":"latest"}"#)
        #expect(GroupCodec.Config.decode(Array(json)) == .success(config))
        guard case .failure(let e) = GroupCodec.Config.decode(Array(#"{"start":"newest"}"#.utf8)) else {
            Issue.record("an unknown start accepted")
            return
        }
        #expect(e.code == .invalidArgument)
    }

    private func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }
}
