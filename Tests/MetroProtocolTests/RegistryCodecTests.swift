import Foundation
import MetroProtocol
import Testing

/// Every bad input of protocol.md §5.3 decodes to its error, in the documented order.
@Suite struct RegistryCodecTests {
    static let v = WireProtocol.versionBytes
    static func b(_ s: String) -> [UInt8] { Array(s.utf8) }
    static let good =
        #"{"service":"profiles","instance":"p-1","epoch":7,"endpoints":["tcp://127.0.0.1:5000"],"ttl_ms":1000}"#

    func code(_ frames: [[UInt8]]) -> WireErrorCode? {
        if case .failure(let e) = RegistryRequest.decode(frames) { return e.code }
        return nil
    }

    func register(_ json: String) -> WireErrorCode? { code([Self.v, Self.b("REGISTER"), Self.b(json)]) }

    @Test func framingErrors() {
        #expect(code([]) == .malformedMessage)
        #expect(code([[]]) == .malformedMessage)
        #expect(code([Self.b("metro/2"), Self.b("LIST")]) == .unsupportedVersion)
        #expect(code([[0xFF, 0x00, 0x13]]) == .unsupportedVersion)
        #expect(code([Self.v]) == .malformedMessage)
        #expect(code([Self.v, Self.b("FROB")]) == .unknownCommand)
        #expect(code([Self.v, [0xC3, 0x28]]) == .unknownCommand)
        #expect(code([Self.v, Self.b("LOOKUP")]) == .malformedMessage)
        #expect(code([Self.v, Self.b("LIST"), Self.b("extra")]) == .malformedMessage)
        #expect(code([Self.v, Self.b("REGISTER"), Self.b(Self.good), Self.b("extra")]) == .malformedMessage)
        #expect(
            code([Self.v, Self.b("LOOKUP"), [UInt8](repeating: 0x61, count: RegistryLimits.maxRequestBytes)])
                == .tooLarge)
    }

    @Test func bodyErrors() {
        #expect(register(Self.good) == nil)
        #expect(code([Self.v, Self.b("REGISTER"), [0x7B, 0xFF, 0x7D]]) == .invalidUTF8)
        #expect(code([Self.v, Self.b("LOOKUP"), [0xC3, 0x28]]) == .invalidUTF8)
        #expect(register("{not json") == .invalidJSON)
        #expect(register("[1,2]") == .invalidJSON)
        #expect(register(#"{"service":"profiles"}"#) == .invalidJSON)
        #expect(register(Self.good.replacingOccurrences(of: #""epoch":7"#, with: #""epoch":-7"#)) == .invalidJSON)
        #expect(
            code([Self.v, Self.b("HEARTBEAT"), Self.b(#"{"service":"profiles","instance":"p-1"}"#)]) == .invalidJSON)
    }

    /// §5.2–5.3: bodies are strict JSON, integer fields take JSON integers only, and
    /// an integer out of a field's range gets that field's error, not 104.
    @Test func strictBodiesAndJSONIntegers() {
        func replacing(_ a: String, _ b: String) -> String { Self.good.replacingOccurrences(of: a, with: b) }
        let ttl = #""ttl_ms":1000"#, epoch = #""epoch":7"#
        let cases: [(String, String, WireErrorCode?)] = [
            ("ttl_ms -1", replacing(ttl, #""ttl_ms":-1"#), .ttlOutOfRange),
            ("ttl_ms 0", replacing(ttl, #""ttl_ms":0"#), .ttlOutOfRange),
            ("ttl_ms 2^64", replacing(ttl, #""ttl_ms":18446744073709551616"#), .ttlOutOfRange),
            ("ttl_ms 1e3", replacing(ttl, #""ttl_ms":1e3"#), .invalidJSON),
            ("ttl_ms 1000.0", replacing(ttl, #""ttl_ms":1000.0"#), .invalidJSON),
            ("ttl_ms -0", replacing(ttl, #""ttl_ms":-0"#), .invalidJSON),
            ("ttl_ms 01000", replacing(ttl, #""ttl_ms":01000"#), .invalidJSON),
            ("ttl_ms as a string", replacing(ttl, #""ttl_ms":"1000""#), .invalidJSON),
            ("ttl_ms null", replacing(ttl, #""ttl_ms":null"#), .invalidJSON),
            ("epoch -1", replacing(epoch, #""epoch":-1"#), .invalidJSON),
            ("epoch -0", replacing(epoch, #""epoch":-0"#), .invalidJSON),
            ("epoch 1e3", replacing(epoch, #""epoch":1e3"#), .invalidJSON),
            ("epoch 2^64", replacing(epoch, #""epoch":18446744073709551616"#), .invalidJSON),
            ("epoch 2^64-1", replacing(epoch, #""epoch":18446744073709551615"#), nil),
            ("epoch 0", replacing(epoch, #""epoch":0"#), nil),
            ("duplicate ttl_ms", replacing(ttl, #""ttl_ms":1000,"ttl_ms":5"#), .invalidJSON),
            ("duplicate by escape", replacing(ttl, #""ttl_ms":1000,"ttl_ms":1000"#), .invalidJSON),
            ("duplicate unknown field", replacing(ttl, #""ttl_ms":1000,"x":1,"x":1"#), .invalidJSON),
            ("trailing comma", replacing(ttl, #""ttl_ms":1000,"#), .invalidJSON),
            ("trailing comma in an array", replacing(#":5000"]"#, #":5000",]"#), .invalidJSON),
            ("metadata null", replacing(ttl, #""metadata":null,"ttl_ms":1000"#), .invalidJSON),
            ("metadata number", replacing(ttl, #""metadata":{"k":1},"ttl_ms":1000"#), .invalidJSON),
            (
                "metadata keys equal as text",
                replacing(ttl, "\"metadata\":{\"\u{e9}\":\"a\",\"e\u{301}\":\"b\"},\"ttl_ms\":1000"), .invalidJSON
            ),
            ("unknown fields of any JSON", replacing(ttl, #""ttl_ms":1000,"x":[1.5e3,{"y":null}]"#), nil),
            ("whitespace", " \n" + Self.good.replacingOccurrences(of: ",", with: " ,\t") + "\r\n", nil),
            // Step 6 before step 7 (§5.3): a type error wins over a range error.
            (
                "-1 ttl and a 1e3 epoch",
                replacing(ttl, #""ttl_ms":-1"#).replacingOccurrences(of: epoch, with: #""epoch":1e3"#), .invalidJSON
            ),
            // Step 7 in §5.2's order: the service name's error before the ttl's.
            (
                "-1 ttl and a bad name",
                replacing(ttl, #""ttl_ms":-1"#).replacingOccurrences(of: "profiles", with: "P"), .invalidServiceName
            ),
        ]
        for (name, json, expected) in cases {
            #expect(register(json) == expected, "\(name): \(json)")
        }
        let key = #"{"service":"profiles","instance":"p-1","epoch":7}"#
        #expect(code([Self.v, Self.b("HEARTBEAT"), Self.b(key)]) == nil)
        for bad in [
            key.replacingOccurrences(of: "7", with: "7.0"), key.replacingOccurrences(of: "}", with: #","epoch":8}"#),
            key.replacingOccurrences(of: "}", with: ",}"), key.replacingOccurrences(of: "7", with: "-7"),
        ] {
            #expect(code([Self.v, Self.b("DEREGISTER"), Self.b(bad)]) == .invalidJSON, "\(bad)")
        }
    }

    @Test func fieldErrors() {
        #expect(register(Self.good.replacingOccurrences(of: "profiles", with: "Profiles")) == .invalidServiceName)
        #expect(register(Self.good.replacingOccurrences(of: "\"p-1\"", with: "\"p 1\"")) == .invalidArgument)
        #expect(
            register(Self.good.replacingOccurrences(of: "tcp://127.0.0.1:5000", with: "http://x:80"))
                == .invalidEndpoint)
        #expect(
            register(Self.good.replacingOccurrences(of: "tcp://127.0.0.1:5000", with: "tcp://*:5000"))
                == .invalidEndpoint)
        #expect(register(Self.good.replacingOccurrences(of: "\"ttl_ms\":1000", with: "\"ttl_ms\":5")) == .ttlOutOfRange)
        #expect(
            register(Self.good.replacingOccurrences(of: "\"ttl_ms\":1000", with: "\"ttl_ms\":99999999"))
                == .ttlOutOfRange)
        #expect(code([Self.v, Self.b("LOOKUP"), Self.b("-bad")]) == .invalidServiceName)
    }

    @Test func serviceNameGrammar() {
        for good in ["a", "profiles", "video-processing", "svc2", String(repeating: "a", count: 63)] {
            #expect(RegistryLimits.validateServiceName(good) == nil, "\(good)")
        }
        for bad in ["", "1abc", "-a", "a-", "A", "a.b", "a_b", "a b", "é", String(repeating: "a", count: 64)] {
            #expect(RegistryLimits.validateServiceName(bad)?.code == .invalidServiceName, "\(bad)")
        }
    }

    @Test func endpointGrammar() {
        for good in ["tcp://127.0.0.1:5000", "tcp://host.example:1", "tcp://[::1]:65535", "ipc:///tmp/x.sock"] {
            #expect(RegistryLimits.validateEndpoint(good) == nil, "\(good)")
        }
        for bad in [
            "", "127.0.0.1:5000", "tcp://127.0.0.1", "tcp://127.0.0.1:0", "tcp://127.0.0.1:70000",
            "tcp://127.0.0.1:*", "tcp://:5000", "inproc://x", "ipc://", "tcp://a b:1",
        ] {
            #expect(RegistryLimits.validateEndpoint(bad)?.code == .invalidEndpoint, "\(bad)")
        }
    }

    @Test func metadataLimits() {
        #expect(RegistryLimits.validateMetadata(["": "x"])?.code == .invalidArgument)
        #expect(RegistryLimits.validateMetadata(["k": String(repeating: "x", count: 1025)])?.code == .tooLarge)
        let many = Dictionary(uniqueKeysWithValues: (0..<33).map { ("k\($0)", "v") })
        #expect(RegistryLimits.validateMetadata(many)?.code == .invalidArgument)
    }

    @Test func unknownJSONFieldsAreIgnoredAndMetadataIsOptional() throws {
        let json = Self.good.dropLast() + #","future":true}"#
        let request = try RegistryRequest.decode([Self.v, Self.b("REGISTER"), Self.b(String(json))]).get()
        guard case .register(let r) = request else { Issue.record("not REGISTER"); return }
        #expect(r.metadata == [:])
        #expect(r.epoch == 7)
    }

    @Test func replyDecodingRejectsNonReplies() {
        #expect(throws: WireError.self) { try RegistryReply.decode([Self.v, Self.b("OK")]).get() }
        #expect(throws: WireError.self) { try RegistryReply.decode([Self.b("x"), Self.b("OK"), Self.b("{}")]).get() }
        #expect(throws: WireError.self) {
            try RegistryReply.decode([Self.v, Self.b("ERROR"), Self.b("999"), Self.b("m")]).get()
        }
    }

    @Test func membershipEventsTolerateBrokerFramesAndRejectOtherTopics() throws {
        let r = Registration(service: "a", instance: "i", epoch: 1, endpoints: ["tcp://h:1"], ttlMilliseconds: 1000)
        var frames = MembershipEvent(.expired, r, timestampNanoseconds: 5).encode()
        frames.insert([0, 0, 0, 0, 0, 0, 0, 9], at: 2)
        #expect(MembershipEvent.decode(frames)?.kind == .expired)
        frames[0] = Self.b("$registry.registered")
        #expect(MembershipEvent.decode(frames) == nil)
        #expect(MembershipEvent.decode([Self.b("video.uploaded"), Self.b("{}")]) == nil)
    }
}
