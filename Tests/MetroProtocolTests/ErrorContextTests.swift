import MetroProtocol
import Testing

/// §3.1: an ERROR on the broker's request sockets carries the request's third frame
/// as context when it is a usable id, whatever the code; also when the request had
/// more frames than the broker's receive buffer kept (`discardedFrames`).
@Suite struct ErrorContextTests {
    static let v = WireProtocol.versionBytes
    static func b(_ s: String) -> [UInt8] { Array(s.utf8) }
    static let id = b("id-1")

    /// The rejected code and the echoed frame's bytes, for an ingest request.
    func ingest(_ frames: [[UInt8]], discarded: Int = 0) -> (WireErrorCode?, [UInt8]?) {
        guard
            case .reject(let e, let frame) = IngestCodec.decide(
                frames, offset: 0, maxPayloadBytes: 1024, discardedFrames: discarded)
        else { return (nil, nil) }
        return (e.code, frame.map { frames[$0] })
    }

    func consume(_ frames: [[UInt8]], discarded: Int = 0) -> (WireErrorCode?, [UInt8]?) {
        guard case .failure(let e) = ConsumeCodec.decodeRequest(frames, offset: 0, discardedFrames: discarded) else {
            return (nil, nil)
        }
        return (e.error.code, e.id)
    }

    @Test func ingestEchoesTheThirdFrameForEveryCode() {
        let event = [Self.id, Self.b("a.b"), [], [1]]
        let cases: [(String, [[UInt8]], WireErrorCode, [UInt8]?)] = [
            ("wrong version", [Self.b("metro/2"), Self.b("PUBLISH")] + event, .unsupportedVersion, Self.id),
            ("garbage version", [[0xFF]] + [Self.b("PUBLISH")] + event, .unsupportedVersion, Self.id),
            ("unknown command", [Self.v, Self.b("PUBLISHX")] + event, .unknownCommand, Self.id),
            ("5 frames", [Self.v, Self.b("PUBLISH")] + event.dropLast(), .malformedMessage, Self.id),
            (
                "257 events", [Self.v, Self.b("PUBLISH")] + Array(repeating: event, count: 257).flatMap { $0 },
                .malformedMessage, Self.id
            ),
            // No usable id: no context.
            ("two frames", [Self.v, Self.b("NOPE")], .unknownCommand, nil),
            ("empty third frame", [Self.v, Self.b("NOPE"), []], .unknownCommand, nil),
            (
                "65-byte third frame", [Self.b("x"), Self.b("PUBLISH"), [UInt8](repeating: 65, count: 65)],
                .unsupportedVersion, nil
            ),
            // PUBLISH-PACKED's third frame is the batch, never an id (§4.2.6).
            ("packed, 4 frames", [Self.v, Self.b("PUBLISH-PACKED"), Self.id, Self.id], .malformedMessage, nil),
        ]
        for (name, frames, code, context) in cases {
            let (got, echoed) = ingest(frames)
            #expect(got == code, "\(name)")
            #expect(echoed == context, "\(name)")
        }
    }

    /// A PUBLISH whose frames overflowed the broker's buffer: the frames kept plus
    /// the count discarded give the same verdict as the whole message.
    @Test func ingestCountsDiscardedFrames() {
        let event = [Self.id, Self.b("a.b"), [], [1]]
        let whole = [Self.v, Self.b("PUBLISH")] + Array(repeating: event, count: 257).flatMap { $0 }
        let kept = Array(whole.prefix(2 + 4 * 256))
        let (code, echoed) = ingest(kept, discarded: whole.count - kept.count)
        #expect(code == .malformedMessage && echoed == Self.id)
        #expect(ingest(Array(kept.prefix(3)), discarded: 1).0 == .malformedMessage, "packed-sized prefix")
        let packed = [Self.v, Self.b("PUBLISH-PACKED"), Self.id]
        #expect(ingest(packed, discarded: 1) == (.malformedMessage, nil))
    }

    @Test func consumeEchoesTheThirdFrameForEveryCode() {
        let r = Self.b("r1")
        let replay: [[UInt8]] = [
            Self.v, Self.b("REPLAY"), r, Self.b("seq"), BigEndian.bytes(UInt64(0)), BigEndian.bytes(UInt64(0)),
            BigEndian.bytes32(10),
        ]
        let cases: [(String, [[UInt8]], WireErrorCode, [UInt8]?)] = [
            ("wrong version", [Self.b("metro/2")] + replay.dropFirst(), .unsupportedVersion, r),
            ("unknown command", [Self.v, Self.b("REWIND"), r], .unknownCommand, r),
            ("65 prefixes", replay + Array(repeating: Self.b("p."), count: 65), .malformedMessage, r),
            ("extra frame on STATS", [Self.v, Self.b("STATS"), r], .malformedMessage, r),
            ("group: invalid name", [Self.v, Self.b("LEAVE"), Self.b("a b")], .invalidArgument, nil),
            ("version only", [Self.v], .malformedMessage, nil),
        ]
        for (name, frames, code, context) in cases {
            let (got, echoed) = consume(frames)
            #expect(got == code, "\(name)")
            #expect(echoed == context, "\(name)")
        }
        #expect(consume(replay + Array(repeating: Self.b("p."), count: 64)).0 == nil, "64 prefixes are fine")
    }

    @Test func consumeCountsDiscardedFrames() {
        let r = Self.b("r1")
        let replay: [[UInt8]] =
            [
                Self.v, Self.b("REPLAY"), r, Self.b("seq"), BigEndian.bytes(UInt64(0)), BigEndian.bytes(UInt64(0)),
                BigEndian.bytes32(10),
            ] + Array(repeating: Self.b("p."), count: 64)
        #expect(consume(replay, discarded: 1) == (.malformedMessage, r))
        #expect(
            consume([Self.v, Self.b("JOIN"), Self.b("workers")], discarded: 90) == (
                .malformedMessage, Self.b("workers")
            ))
        #expect(consume([Self.v, Self.b("NOPE"), r], discarded: 90) == (.unknownCommand, r))
        #expect(consume([Self.b("metro/0"), Self.b("NOPE"), r], discarded: 90) == (.unsupportedVersion, r))
    }
}
