import Testing

@testable import MetroProtocol

/// `RpcHeaders.encode` writes its JSON by hand; these hold it to the bytes
/// `WireJSON` (Foundation's `JSONEncoder`, sorted keys, slashes unescaped) gives.
@Suite struct RpcHeadersEncodingTests {
    static func reference(_ h: RpcHeaders) -> [UInt8] {
        WireJSON.encode(RpcHeaders.Members(requestId: h.requestID, target: h.target, traceparent: h.traceparent))
    }

    static let everyASCII = String(decoding: (0..<0x80).map { UInt8($0) }, as: UTF8.self)

    static let texts = [
        "", "a", "0b6c2f3e-5a1d-4a8e-9c7b-2d4e6f8a0b1c", everyASCII, "\"quoted\" and \\back\\slashed/",
        "é€😀\u{2028}\u{2029}", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "\u{0}\u{1f}\u{7f}",
    ]

    @Test(arguments: texts) func oneMemberIsWhatWireJSONWrites(_ text: String) {
        for h in [RpcHeaders(requestID: text), RpcHeaders(traceparent: text), RpcHeaders(target: text)] {
            #expect(h.encode() == Self.reference(h), "\(String(decoding: h.encode(), as: UTF8.self))")
        }
    }

    @Test func everyMemberAndNoneAreWhatWireJSONWrites() {
        let target = RpcHeaders.target(service: "profiles", instance: "profiles-1", epoch: 1_796_315_579_940_739_584)
        #expect(target == "profiles/profiles-1@1796315579940739584")
        for h in [
            RpcHeaders(), RpcHeaders(requestID: Self.everyASCII, traceparent: "t/1"),
            RpcHeaders(requestID: "r", traceparent: "t", target: target), RpcHeaders(traceparent: "t", target: target),
            RpcHeaders(requestID: "r", target: target),
        ] {
            #expect(h.encode() == Self.reference(h))
        }
        #expect(RpcHeaders().encode() == Array("{}".utf8))
    }

    /// Random strings of ASCII and a few wider scalars, each round-tripped too.
    @Test func randomStringsMatchAndDecodeBack() throws {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        let wide: [Unicode.Scalar] = ["é", "€", "😀", "\u{2028}", "\u{FEFF}"]
        for _ in 0..<500 {
            var text = String.UnicodeScalarView()
            for _ in 0..<Int(next() % 40) {
                let r = next()
                text.append(r % 8 == 0 ? wide[Int(r / 8 % 5)] : Unicode.Scalar(UInt8(r / 8 % 0x80)))
            }
            let h = RpcHeaders(
                requestID: String(text), traceparent: next() % 2 == 0 ? String(text) : nil,
                target: next() % 3 == 0 ? String(text) : nil)
            #expect(h.encode() == Self.reference(h))
            #expect(try RpcHeaders.decode(h.encode()).get() == h)
        }
    }
}
