import Foundation
import MetroProtocol
import MetroTestKit
import Testing
import ZeroMQ

extension RegistrySystemTests {
    /// Every bad input of protocol.md §5.3 gets its error reply, is counted in STATS,
    /// and the registry keeps answering.
    @Suite struct BadInput {
        static let good =
            #"{"service":"profiles","instance":"p-1","epoch":7,"endpoints":["tcp://127.0.0.1:5000"],"ttl_ms":1000}"#
        static let v = WireProtocol.versionBytes

        static func register(_ json: String) -> [[UInt8]] { [v, bytes("REGISTER"), bytes(json)] }
        static func registerReplacing(_ a: String, _ b: String) -> [[UInt8]] {
            register(good.replacingOccurrences(of: a, with: b))
        }

        static let cases: [(String, [[UInt8]], WireErrorCode)] = [
            ("bad service name", registerReplacing("profiles", "Profiles!"), .invalidServiceName),
            ("bad service name in LOOKUP", [v, bytes("LOOKUP"), bytes("no_underscores")], .invalidServiceName),
            (
                "not a ZeroMQ endpoint", registerReplacing("tcp://127.0.0.1:5000", "http://example.com/"),
                .invalidEndpoint
            ),
            ("wildcard endpoint", registerReplacing("tcp://127.0.0.1:5000", "tcp://127.0.0.1:*"), .invalidEndpoint),
            ("no endpoints", registerReplacing(#"["tcp://127.0.0.1:5000"]"#, "[]"), .invalidEndpoint),
            ("TTL too small", registerReplacing(#""ttl_ms":1000"#, #""ttl_ms":1"#), .ttlOutOfRange),
            ("TTL too large", registerReplacing(#""ttl_ms":1000"#, #""ttl_ms":86400000"#), .ttlOutOfRange),
            ("bad instance id", registerReplacing("p-1", "p/1"), .invalidArgument),
            ("missing body frame", [v, bytes("REGISTER")], .malformedMessage),
            ("missing command frame", [v], .malformedMessage),
            ("extra frame", register(good) + [bytes("extra")], .malformedMessage),
            ("extra frame on LIST", [v, bytes("LIST"), bytes("{}")], .malformedMessage),
            ("empty message", [[]], .malformedMessage),
            ("garbage bytes", [[0xDE, 0xAD, 0xBE, 0xEF, 0x00, 0x01]], .unsupportedVersion),
            ("wrong version", [bytes("metro/9"), bytes("LIST")], .unsupportedVersion),
            ("unknown command", [v, bytes("EXPLODE")], .unknownCommand),
            ("invalid UTF-8 in JSON", [v, bytes("REGISTER"), [0x7B, 0x22, 0xFF, 0xFE, 0x22, 0x7D]], .invalidUTF8),
            ("invalid UTF-8 service", [v, bytes("LOOKUP"), [0x70, 0xC3, 0x28]], .invalidUTF8),
            ("invalid JSON", register("{\"service\": "), .invalidJSON),
            ("JSON of the wrong shape", register("[\"profiles\"]"), .invalidJSON),
            ("missing JSON field", [v, bytes("HEARTBEAT"), bytes(#"{"service":"profiles"}"#)], .invalidJSON),
            ("oversized request", [v, bytes("LOOKUP"), [UInt8](repeating: 0x61, count: 100_000)], .tooLarge),
            (
                "oversized metadata value",
                registerReplacing(
                    #""ttl_ms""#, #""metadata":{"k":"\#(String(repeating: "x", count: 2000))"},"ttl_ms""#), .tooLarge
            ),
        ]

        @Test func everyBadInputGetsItsErrorAndIsCounted() async throws {
            let registry = try await RegistryUnderTest()
            let context = try Context(defaultLingerMilliseconds: 0)
            let client = try RawRegistryClient(context: context, endpoint: registry.endpoint)
            defer { client.close() }
            _ = try await client.request(
                .register(
                    Registration(
                        service: "canary", instance: "c-1", epoch: 1, endpoints: ["tcp://127.0.0.1:1"],
                        ttlMilliseconds: 60_000)))

            var expected: [WireErrorCode: UInt64] = [:]
            for (name, frames, code) in Self.cases {
                #expect(try await client.errorCode(frames) == code, "\(name)")
                expected[code, default: 0] += 1
                // ... and the registry still answers.
                #expect(try await client.lookup("canary").map(\.instance) == ["c-1"], "after \(name)")
            }
            let stats = try await client.stats()
            for (code, n) in expected {
                #expect(stats.errorCount(code) == n, "count of \(code)")
            }
            #expect(registry.process.isRunning)
        }

        @Test func randomMessagesAllGetRepliesAndTheRegistrySurvives() async throws {
            let registry = try await RegistryUnderTest()
            let context = try Context(defaultLingerMilliseconds: 0)
            let client = try RawRegistryClient(context: context, endpoint: registry.endpoint)
            defer { client.close() }
            var garbage = GarbageMessages(
                seed: 0x5EED, version: Self.v, commands: RegistryCommand.allCases.map(\.rawValue) + ["NOPE", ""],
                bodies: [bytes(Self.good)], maxFrames: 4)
            var errors = 0
            for _ in 0..<400 {
                if try await client.errorCode(garbage.next()) != nil { errors += 1 }
            }
            #expect(errors > 300)
            #expect(try await client.lookup("profiles").count <= 1)
            #expect(try await client.stats().requests >= 400)
        }

        @Test func aDealerWithoutDelimiterIsAnsweredToo() async throws {
            let registry = try await RegistryUnderTest()
            let context = try Context(defaultLingerMilliseconds: 0)
            let dealer = try context.socket(.dealer)
            try dealer.set(.receiveTimeout(milliseconds: 5000))
            try dealer.connect(registry.endpoint)
            try dealer.send(multipart: [[0x00, 0xFF], bytes("noise")])
            let reply = try #require(try await dealer.receiveOffPool())
            #expect(reply.prefix(3) == [Self.v, bytes("ERROR"), bytes("100")])
            // With a delimiter, as REQ does, a DEALER gets the delimiter back.
            try dealer.send(multipart: [[], Self.v, bytes("LIST")])
            let ok = try #require(try await dealer.receiveOffPool())
            #expect(ok.prefix(3) == [[], Self.v, bytes("OK")])
            dealer.close()
        }

        @Test func aMessageOverZeroMQsLimitDisconnectsOnlyThatPeer() async throws {
            let registry = try await RegistryUnderTest()
            let context = try Context(defaultLingerMilliseconds: 0)
            let big = try context.socket(.req)
            try big.set(.linger(milliseconds: 0))
            try big.set(.receiveTimeout(milliseconds: 300))
            try big.connect(registry.endpoint)
            try big.send(multipart: [Self.v, bytes("LOOKUP"), [UInt8](repeating: 0x61, count: 2 << 20)])
            #expect(try await big.receiveOffPool() == nil)  // disconnected by ZeroMQ: no reply (§2.6)
            big.close()
            let client = try RawRegistryClient(context: context, endpoint: registry.endpoint)
            defer { client.close() }
            #expect(try await client.lookup("profiles").isEmpty)
        }

        @Test func aClientThatLeavesBeforeItsReplyDoesNotWedgeTheRegistry() async throws {
            let registry = try await RegistryUnderTest()
            let context = try Context(defaultLingerMilliseconds: 0)
            for _ in 0..<50 {
                let gone = try context.socket(.req)
                try gone.set(.linger(milliseconds: 2000))  // the request is flushed, then the peer is gone
                try gone.connect(registry.endpoint)
                try gone.send(multipart: RegistryRequest.list.encode())
                gone.close()
            }
            let client = try RawRegistryClient(context: context, endpoint: registry.endpoint)
            defer { client.close() }
            #expect(try await client.lookup("profiles").isEmpty)
            // STATS counts itself, the LOOKUP and the 50 abandoned requests.
            var statsCalls: UInt64 = 0
            try await waitFor("the registry to see the 50 abandoned requests") {
                statsCalls += 1
                return try await client.stats().requests >= 50 + 1 + statsCalls
            }
            #expect(try await client.lookup("profiles").isEmpty)
        }
    }
}
