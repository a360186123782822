import Foundation
import MetroKit
import MetroProtocol
import MetroTestKit
import Testing
import ZeroMQ

/// A group member whose process dies loses its held events to the other members
/// at once (protocol.md §4.10, "Redelivery"): the broker sees its connection
/// close through the consume socket's monitor, read every 100 ms, instead of
/// waiting for 3 silent heartbeat intervals (3 s with the default 1 s).
@Suite struct BrokerMemberLossTests {
    /// The budget from the kill -9 to the first redelivery the other member sees.
    /// The target is 300 ms (issue 18, met by the bench: p50 68 ms); the test
    /// allows 1.5 s, since the full suite runs on 2 loaded cores where a test
    /// task can wait seconds for a pool thread (docs/performance.md; 1.95 s was
    /// seen once with a 1 s budget, load average ~40). Without the monitor the
    /// loss takes at least 2 s (the member's last heartbeat is at most 1 s before
    /// the kill, and it is lost 3 intervals after it; 2.7–3 s measured), so
    /// 1.5 s still tells the two apart.
    static let budget: Duration = .milliseconds(1500)

    @Test func aMemberKilledWith9HasItsEventsRedeliveredWithinOneAndAHalfSecondsWithTheDefaults() async throws {
        // The default heartbeat interval (1 s); no fsync, to keep the test cheap.
        let broker = try await BrokerHarness(config: "journal:\n  fsync: never\n")
        let holder = try MetroProcess([
            "consume", "--consume", broker.consume, "--group", "workers", "--prefix", "job.", "--member", "holder",
            "--window", "5", "--no-ack",
        ])
        defer { holder.kill() }
        try await holder.waitUntilReady()
        let publisher = try Publisher(.init(ingest: broker.ingest))
        try await closing(publisher) {
            _ = try await publishMany(publisher, count: 5, topics: ["job.a"])
            try await eventually("the holder holds 5") { holder.stdoutLines.count == 6 }

            var options = Consumer.Options(
                consume: broker.consume, group: "workers", member: "other", config: .init(prefixes: ["job."]))
            options.window = 10
            let other = try Consumer(options)
            try await closing(other) {
                let firstAt = Locked<ContinuousClock.Instant?>(nil)
                let seen = Locked(0)
                let task = Task {
                    for await d in other.deliveries {
                        firstAt.withLock { $0 = $0 ?? .now }
                        seen.withLock { $0 += 1 }
                        other.ack(d)
                    }
                }
                defer { task.cancel() }
                try await eventually("the other member joined") {
                    try await broker.stats().groups["workers"]?.members == 2
                }
                #expect(seen.withLock { $0 } == 0)  // nothing to spare while the holder lives
                let killedAt = ContinuousClock.now
                holder.kill(SIGKILL)
                try await eventually("the held events, redelivered") { seen.withLock { $0 } >= 5 }
                let first = try #require(firstAt.withLock { $0 })
                let elapsed = first - killedAt
                #expect(elapsed < Self.budget, "first redelivery \(elapsed) after the kill")
                let g = try #require(try await broker.stats().groups["workers"])
                #expect(g.members == 1 && g.redelivered == 5)
                #expect(await broker.stop() == 0)
            }
        }
    }

    /// libzmq reuses a closed connection's descriptor at once. A member that joins
    /// on the descriptor of a connection that just closed (here a replay's) must
    /// not be taken for that connection: the
    /// broker reads the close before it records the JOIN. Recorded first, the
    /// close read ~100 ms later lost the new member (seen in
    /// `aGroupSkipsAndCountsEventsRetentionRemovedBeforeItReadOrAckedThem`).
    @Test func aMemberJoiningOnTheDescriptorOfAConnectionThatJustClosedStaysAMember() async throws {
        // Heartbeats of a minute: these raw members never HEARTBEAT, and under a
        // loaded full run the test can take over 3 s (3 intervals of 1 s).
        let broker = try await BrokerHarness(config: "heartbeatIntervalMs: 60000\njournal:\n  fsync: never\n")
        let v = WireProtocol.versionBytes, g = bytes("workers")
        var members: [Socket] = []
        defer { for m in members { m.close() } }
        let fdFolder = "/proc/\(broker.process.pid)/fd"
        func brokerDescriptors() throws -> Int { try FileManager.default.contentsOfDirectory(atPath: fdFolder).count }
        for round in 0..<3 {
            // A connection that replays and closes; once the broker's I/O thread
            // has closed its descriptor (well within the 100 ms between monitor reads),
            // a JOIN on a new connection, which gets the same descriptor.
            let before = try brokerDescriptors()
            _ = try await replay(on: broker.consume, .init(id: bytes("probe"), start: .seq(1), credit: 0))
            try await eventually("the broker closed the probe's descriptor", interval: .milliseconds(1)) {
                try brokerDescriptors() <= before
            }
            let member = try testContext.socket(.dealer)
            try member.set(.receiveTimeout(milliseconds: 5000))
            try member.connect(broker.consume)
            try member.send(multipart: [v, bytes("JOIN"), g, bytes("m\(round)"), BigEndian.bytes32(1), bytes("{}")])
            #expect(try #require(try await member.receiveOffPool())[1] == bytes("JOINED"))
            members.append(member)
        }
        // STATS reads the monitors (every close so far), and a loss they queue is
        // carried out at the end of that turn: the second STATS would show it.
        _ = try await broker.stats()
        let g0 = try #require(try await broker.stats().groups["workers"])
        #expect(g0.members == 3, "no member lost for a close that was not its own")
        #expect(await broker.stop() == 0)
    }
}
