import Foundation
import MetroProtocol
import MetroTestKit
import Testing
import ZeroMQ

extension BrokerSystemTests {
    /// §3.1 on a real broker: every ERROR on the ingest and consume sockets carries
    /// the request's third frame (event id, replay id, group) when it is a usable id,
    /// whatever the code, including requests with more frames than the broker keeps
    /// (a PUBLISH of 257 events, a REPLAY with 65 prefixes).
    @Test func errorsCarryTheRequestsIDAsContextOnEveryCode() async throws {
        let broker = try await BrokerHarness()
        let v = WireProtocol.versionBytes
        let event: [[UInt8]] = [bytes("ctx-1"), bytes("a.b"), [], [1]]
        let ingestCases: [(String, [[UInt8]], WireErrorCode)] = [
            (
                "257 events", [v, bytes("PUBLISH")] + Array(repeating: event, count: 257).flatMap { $0 },
                .malformedMessage
            ),
            (
                "300 events", [v, bytes("PUBLISH")] + Array(repeating: event, count: 300).flatMap { $0 },
                .malformedMessage
            ),
            ("wrong version", [bytes("metro/2"), bytes("PUBLISH")] + event, .unsupportedVersion),
            ("unknown command", [v, bytes("PUBLISH-ZIPPED")] + event, .unknownCommand),
            ("five frames", [v, bytes("PUBLISH")] + event.dropLast(), .malformedMessage),
        ]
        for (name, frames, code) in ingestCases {
            let (got, context) = errorOf(try await request(on: broker.ingest, frames))
            #expect(got == code, "ingest: \(name)")
            #expect(context == [bytes("ctx-1")], "ingest: \(name)")
        }

        let replay: [[UInt8]] = [
            v, bytes("REPLAY"), bytes("r-65"), bytes("seq"), BigEndian.bytes(UInt64(0)), BigEndian.bytes(UInt64(0)),
            BigEndian.bytes32(10),
        ]
        let consumeCases: [(String, [[UInt8]], WireErrorCode, [UInt8])] = [
            ("65 prefixes", replay + Array(repeating: bytes("a."), count: 65), .malformedMessage, bytes("r-65")),
            ("200 prefixes", replay + Array(repeating: bytes("a."), count: 200), .malformedMessage, bytes("r-65")),
            ("wrong version", [bytes("metro/2")] + replay.dropFirst(), .unsupportedVersion, bytes("r-65")),
            ("unknown command", [v, bytes("REWIND"), bytes("r-9")], .unknownCommand, bytes("r-9")),
            (
                "JOIN with 80 frames", [v, bytes("JOIN"), bytes("workers")] + Array(repeating: [], count: 80),
                .malformedMessage, bytes("workers")
            ),
        ]
        for (name, frames, code, id) in consumeCases {
            let (got, context) = errorOf(try await request(on: broker.consume, frames))
            #expect(got == code, "consume: \(name)")
            #expect(context == [id], "consume: \(name)")
        }
        // Nothing of it was stored or started, and each got exactly one reply.
        let stats = try await broker.stats()
        #expect(stats.accepted == 0 && stats.replays == 0)
        #expect(stats.rejected == UInt64(ingestCases.count + consumeCases.count))
        #expect(await broker.stop() == 0)
    }
}
