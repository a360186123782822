import MetroProtocol
import Testing

/// REJECT's strict decoding (protocol.md §4.10): frame count, group name, seq,
/// reason length, reason UTF-8, in that order; the group name as context whenever
/// it is a valid one.
@Suite struct GroupRejectCodecTests {
    let v = WireProtocol.versionBytes
    let cmd = Array("REJECT".utf8)
    let group = Array("workers".utf8)
    let seq = BigEndian.bytes(42)

    func decode(_ frames: [[UInt8]]) -> Result<ConsumeCodec.Request, ConsumeCodec.RequestError> {
        ConsumeCodec.decodeRequest(frames, offset: 0)
    }

    func failure(_ frames: [[UInt8]]) -> ConsumeCodec.RequestError? {
        if case .failure(let e) = decode(frames) { e } else { nil }
    }

    @Test func reasonsFromEmptyTo256BytesOfUTF8AreAccepted() throws {
        let cases = ["", "payload is not JSON", String(repeating: "é", count: 128), String(repeating: "x", count: 256)]
        for reason in cases {
            let frames = [v, cmd, group, seq, Array(reason.utf8)]
            #expect(try decode(frames).get() == .group(.reject(group: "workers", seq: 42, reason: reason)))
            #expect(GroupCodec.Request.reject(group: "workers", seq: 42, reason: reason).frames == frames)
        }
    }

    @Test func badFramesGetTheirCodesInTheDocumentedOrder() {
        let long = [UInt8](repeating: 0x78, count: 257)
        let notUTF8: [UInt8] = [0x6f, 0x6b, 0xff]
        let cases: [(String, [[UInt8]], WireErrorCode, [UInt8]?)] = [
            ("no reason frame", [v, cmd, group, seq], .malformedMessage, group),
            ("a frame too many", [v, cmd, group, seq, [], []], .malformedMessage, group),
            ("bad group name", [v, cmd, Array("a b".utf8), seq, []], .invalidArgument, nil),
            ("seq of 7 bytes", [v, cmd, group, [0, 0, 0, 0, 0, 0, 42], []], .malformedMessage, group),
            ("reason of 257 bytes", [v, cmd, group, seq, long], .tooLarge, group),
            ("reason not UTF-8", [v, cmd, group, seq, notUTF8], .invalidUTF8, group),
            // Length is checked before UTF-8, and the seq before both.
            ("long and not UTF-8", [v, cmd, group, seq, long + [0xff]], .tooLarge, group),
            ("short seq, long reason", [v, cmd, group, [1], long], .malformedMessage, group),
            // 256 bytes that end in the middle of a character are not UTF-8.
            (
                "cut character", [v, cmd, group, seq, Array(String(repeating: "é", count: 128).utf8.dropLast())],
                .invalidUTF8, group
            ),
        ]
        for (name, frames, code, context) in cases {
            let e = failure(frames)
            #expect(e?.error.code == code, "\(name)")
            #expect(e?.id == context, "\(name)")
        }
    }
}
