import Foundation
import MetroProtocol
import MetroTestKit
import Testing
import ZeroMQ

extension RegistrySystemTests {
    /// §5.2–5.3 as a foreign client meets them: request bodies are strict JSON
    /// (no duplicate keys, no trailing commas), integer fields take JSON integers
    /// only, and an integer outside `ttl_ms`'s range is 304, not 104.
    @Suite struct StrictJSONBodies {
        static let good =
            #"{"service":"strict","instance":"s-1","epoch":7,"endpoints":["tcp://127.0.0.1:5000"],"ttl_ms":1000}"#
        static let v = WireProtocol.versionBytes

        static func register(_ a: String, _ b: String) -> [[UInt8]] {
            [v, bytes("REGISTER"), bytes(good.replacingOccurrences(of: a, with: b))]
        }

        static let ttl = #""ttl_ms":1000"#
        static let cases: [(String, [[UInt8]], WireErrorCode)] = [
            ("ttl_ms -1", register(ttl, #""ttl_ms":-1"#), .ttlOutOfRange),
            ("ttl_ms 2^64", register(ttl, #""ttl_ms":18446744073709551616"#), .ttlOutOfRange),
            ("ttl_ms 1e3", register(ttl, #""ttl_ms":1e3"#), .invalidJSON),
            ("ttl_ms 1000.0", register(ttl, #""ttl_ms":1000.0"#), .invalidJSON),
            ("ttl_ms -0", register(ttl, #""ttl_ms":-0"#), .invalidJSON),
            ("epoch 7.0", register(#""epoch":7"#, #""epoch":7.0"#), .invalidJSON),
            ("epoch -1", register(#""epoch":7"#, #""epoch":-1"#), .invalidJSON),
            ("duplicate ttl_ms", register(ttl, #""ttl_ms":1000,"ttl_ms":2000"#), .invalidJSON),
            (
                "duplicate service", register(#""service":"strict""#, #""service":"strict","service":"other""#),
                .invalidJSON
            ),
            ("trailing comma", register(ttl, #""ttl_ms":1000,"#), .invalidJSON),
            ("trailing comma in endpoints", register(#":5000"]"#, #":5000",]"#), .invalidJSON),
            (
                "duplicate key in HEARTBEAT",
                [v, bytes("HEARTBEAT"), bytes(#"{"service":"strict","instance":"s-1","epoch":7,"epoch":8}"#)],
                .invalidJSON
            ),
        ]

        @Test func eachBodyGetsItsErrorAndNothingIsRegistered() async throws {
            let registry = try await RegistryUnderTest()
            let context = try Context(defaultLingerMilliseconds: 0)
            let client = try RawRegistryClient(context: context, endpoint: registry.endpoint)
            defer { client.close() }
            for (name, frames, code) in Self.cases {
                let reply = try await client.request(frames)
                #expect(
                    reply.count == 4 && reply.prefix(2) == [Self.v, bytes("ERROR")], "\(name): \(reply.count) frames")
                #expect(reply.count > 2 && WireErrorCode(frame: reply[2]) == code, "\(name)")
            }
            #expect(try await client.lookup("strict").isEmpty)
            // The same body, strict, registers: the refusals were about form alone.
            #expect(try await client.errorCode([Self.v, bytes("REGISTER"), bytes(Self.good)]) == nil)
            #expect(try await client.lookup("strict").map(\.instance) == ["s-1"])
            let stats = try await client.stats()
            #expect(stats.errorCount(.ttlOutOfRange) == 2)
            #expect(stats.errorCount(.invalidJSON) == UInt64(Self.cases.count - 2))
            // §5.9: codes never answered are absent, not 0.
            #expect(stats.errors[String(WireErrorCode.staleEpoch.rawValue)] == nil)
        }
    }
}
