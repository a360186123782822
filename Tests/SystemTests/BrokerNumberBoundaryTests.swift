import Foundation
import MetroProtocol
import MetroTestKit
import Testing
import ZeroMQ

/// Every number that comes off the consume socket, at its boundaries and at
/// random, against a real broker: the broker answers each request as §4.9 and
/// §4.10 say (a value out of its documented range is ERROR 108, never a trap),
/// keeps answering STATS, and after a restart holds the groups with exactly the
/// values it accepted (Appendix C stores them as u32).
@Suite struct BrokerNumberBoundaryTests {
    /// Integers at the edges of every width a field is stored or computed in.
    static let boundaries: [String] = [
        "-1", "0", "1", "2147483647", "2147483648", "4294967295", "4294967296", "9007199254740993",
        "18446744073710", "9223372036854775807", "9223372036854775808", "18446744073709551615",
        "18446744073709551616", "1e3", "1.5", "-0",
    ]
    static let u32s: [UInt32] = [0, 1, 0x7FFF_FFFF, 0x8000_0000, .max]
    static let u64s: [UInt64] = [0, 1, 0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, .max]

    /// A DEALER on the consume socket that sends a request followed by STATS and
    /// returns what came before STATS' reply: if the broker died on the request,
    /// the STATS reply never comes and the test fails naming the request.
    final class Probe {
        let socket: Socket
        init(_ endpoint: String) throws {
            socket = try testContext.socket(.dealer)
            try socket.set(.receiveTimeout(milliseconds: 5000))
            try socket.connect(endpoint)
        }
        deinit { socket.close() }

        func send(_ frames: [[UInt8]]) async throws -> [[[UInt8]]] {
            try socket.send(multipart: frames)
            try socket.send(multipart: ConsumeCodec.requestFrames(.stats))
            var before: [[[UInt8]]] = []
            while true {
                guard let reply = try await socket.receiveOffPool() else {
                    throw WaitError.timedOut(
                        "the broker's answer after \(frames.map { String(decoding: $0, as: UTF8.self) })")
                }
                if reply.count == 3 && reply[1] == bytes("STATS") { return before }
                before.append(reply)
            }
        }
    }

    static func join(_ group: String, json: String, credit: UInt32 = 0) -> [[UInt8]] {
        [WireProtocol.versionBytes, bytes("JOIN"), bytes(group), bytes("m"), BigEndian.bytes32(credit), bytes(json)]
    }

    static func errorCode(_ reply: [[UInt8]]) -> String? {
        reply.count >= 3 && reply[1] == bytes("ERROR") ? String(decoding: reply[2], as: UTF8.self) : nil
    }

    static func joined(_ reply: [[UInt8]]) -> [String: Any]? {
        guard reply.count == 4, reply[1] == bytes("JOINED") else { return nil }
        return try? JSONSerialization.jsonObject(with: Data(reply[3])) as? [String: Any]
    }

    /// The exact message from the issue: it killed the broker with an arithmetic overflow.
    @Test func aJoinWithAnAckTimeoutPastTheNanosecondRangeIsRefusedAndTheBrokerLives() async throws {
        let broker = try await BrokerHarness(config: "journal:\n  fsync: never\n")
        let probe = try Probe(broker.consume)
        let replies = try await probe.send(Self.join("g1", json: #"{"ackTimeoutMs":18446744073710}"#, credit: 1))
        #expect(replies.count == 1 && Self.errorCode(replies[0]) == "108", "\(replies)")
        // 2^32 would have been stored as 0 (Appendix C's u32), a value JOIN refuses.
        let wrapped = try await probe.send(Self.join("g2", json: #"{"maxDeliveries":4294967296}"#))
        #expect(wrapped.count == 1 && Self.errorCode(wrapped[0]) == "108", "\(wrapped)")
        #expect(await broker.stop() == 0)
    }

    /// JOIN's json fields at every boundary: refused with 104/108, or accepted
    /// with the value itself, and the accepted values survive a restart.
    @Test func joinConfigNumbersAtTheirBoundariesAreRefusedOrKeptExactlyAcrossARestart() async throws {
        let broker = try await BrokerHarness(config: "journal:\n  fsync: never\n")
        let probe = try Probe(broker.consume)
        var accepted: [String: [String: Any]] = [:]
        var n = 0
        for field in ["ackTimeoutMs", "maxDeliveries", "startSeq"] {
            for value in Self.boundaries {
                n += 1
                let group = "g\(n)"
                let replies = try await probe.send(Self.join(group, json: "{\"\(field)\":\(value)}"))
                #expect(replies.count == 1, "\(field)=\(value): \(replies)")
                guard let reply = replies.first else { continue }
                if let code = Self.errorCode(reply) {
                    #expect(code == "104" || code == "108", "\(field)=\(value) got \(code)")
                    continue
                }
                let j = try #require(Self.joined(reply), "\(field)=\(value): \(reply)")
                if field != "startSeq" {
                    // What JOINED tells is the number that was sent, not a wrapped one.
                    let told = try #require(j[field] as? NSNumber)
                    #expect(Decimal(string: value) == told.decimalValue, "\(field)=\(value) became \(told)")
                }
                accepted[group] = j
            }
        }
        #expect(!accepted.isEmpty)
        // The documented ranges (§4.10) hold: the largest legal values are accepted.
        let top = try await probe.send(Self.join("top", json: #"{"ackTimeoutMs":4294967295,"maxDeliveries":1000000}"#))
        let topJoined = try #require(top.first.flatMap(Self.joined), "\(top)")
        accepted["top"] = topJoined

        #expect(await broker.stop() == 0)
        try await broker.restart()
        let again = try Probe(broker.consume)
        for (group, before) in accepted {
            let replies = try await again.send(Self.join(group, json: "{}"))
            let after = try #require(replies.first.flatMap(Self.joined), "\(group) after restart: \(replies)")
            for key in ["ackTimeoutMs", "maxDeliveries", "position"] {
                #expect(
                    (after[key] as? NSNumber) == (before[key] as? NSNumber),
                    "\(group).\(key): \(String(describing: before[key])) before, \(String(describing: after[key])) after"
                )
            }
        }
        #expect(await broker.stop() == 0)
    }

    /// The binary numbers of every consume command at their boundaries, then
    /// seeded random ones: every request is answered as its section says, or
    /// not at all where it has no reply, and the broker keeps serving.
    @Test func binaryNumbersOfEveryConsumeCommandAtTheirBoundariesAndAtRandom() async throws {
        // A long heartbeat: the member stays a member however long the run takes.
        let broker = try await BrokerHarness(config: "heartbeatIntervalMs: 600000\njournal:\n  fsync: never\n")
        let publisher = try testContext.socket(.dealer)
        defer { publisher.close() }
        try publisher.set(.receiveTimeout(milliseconds: 5000))
        try publisher.connect(broker.ingest)
        for i in 0..<20 {
            try publisher.send(multipart: [
                WireProtocol.versionBytes, bytes("PUBLISH"), bytes("e\(i)"), bytes("job.a"), [], bytes("p\(i)"),
            ])
            _ = try #require(try await publisher.receiveOffPool())
        }
        let probe = try Probe(broker.consume)
        let v = WireProtocol.versionBytes
        let joined = try await probe.send(Self.join("workers", json: #"{"prefixes":["job."]}"#, credit: 0))
        #expect(joined.first.flatMap(Self.joined) != nil)

        var requests: [[[UInt8]]] = []
        for c in Self.u32s {
            requests.append([v, bytes("GRANT"), bytes("workers"), BigEndian.bytes32(c)])
            requests.append([v, bytes("CREDIT"), bytes("r1"), BigEndian.bytes32(c)])
            for s in Self.u64s {
                requests.append([v, bytes("NAK"), bytes("workers"), BigEndian.bytes(s), BigEndian.bytes32(c)])
                requests.append([v, bytes("EXTEND"), bytes("workers"), BigEndian.bytes(s), BigEndian.bytes32(c)])
                for kind in ["seq", "time"] {
                    requests.append([
                        v, bytes("REPLAY"), bytes("r1"), bytes(kind), BigEndian.bytes(s), BigEndian.bytes(s),
                        BigEndian.bytes32(c), bytes("job."),
                    ])
                }
            }
        }
        for s in Self.u64s { requests.append([v, bytes("ACK"), bytes("workers"), BigEndian.bytes(s)]) }
        // Seeded random numbers of the right widths, and of wrong ones.
        var rng = SplitMix64(seed: 0x4E55_4D42)
        for _ in 0..<300 {
            let width = [4, 8, 0, 3, 5, 7, 9].randomElement(using: &rng)!
            let field = rng.bytes(width)
            let word = ["GRANT", "CREDIT", "ACK", "NAK", "EXTEND", "REPLAY"].randomElement(using: &rng)!
            switch word {
            case "GRANT": requests.append([v, bytes(word), bytes("workers"), field])
            case "CREDIT": requests.append([v, bytes(word), bytes("r2"), field])
            case "ACK": requests.append([v, bytes(word), bytes("workers"), field])
            case "REPLAY":
                requests.append([v, bytes(word), bytes("r2"), bytes("seq"), field, rng.bytes(8), rng.bytes(4)])
            default: requests.append([v, bytes(word), bytes("workers"), field, rng.bytes(4)])
            }
        }
        for frames in requests {
            let replies = try await probe.send(frames)
            let word = String(decoding: frames[1], as: UTF8.self)
            for reply in replies {
                let kind = String(decoding: reply[1], as: UTF8.self)
                switch kind {
                case "EVENT", "CAUGHT-UP", "DELIVER": continue
                case "ERROR":
                    let code = Self.errorCode(reply)!
                    // 101: a field of the wrong width; 203: no such delivery; 204: seq below the journal.
                    #expect(["101", "203", "204"].contains(code), "\(word) got \(code): \(reply.map { $0.count })")
                default: Issue.record("\(word) got \(kind)")
                }
            }
        }
        let stats = try await broker.stats()
        #expect(stats.accepted == 20)
        #expect(await broker.stop() == 0)
    }
}
