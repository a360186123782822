import Foundation
import MetroKit
import MetroProtocol
import MetroTestKit
import Testing
import ZeroMQ

/// What a subscriber can make the broker hold: its subscriptions (at most a
/// topic's length each, §4.4) and its queue of unsent events (a byte budget,
/// §4.4.3), and the configuration's numbers, refused at start when out of range.
@Suite struct BrokerMemoryBoundTests {
    /// A raw SUB that subscribes to everything, waits for its hello, then never reads.
    static func stalledSubscriber(_ broker: BrokerHarness, token: String) async throws -> Socket {
        let sub = try testContext.socket(.sub)
        try sub.set(.receiveHighWaterMark(100))
        try sub.set(.receiveBufferSize(64 * 1024))
        try sub.subscribe("")
        try sub.connect(broker.events)
        try await waitFor("the hello", timeout: .seconds(10)) {
            try sub.subscribe("$metro.hello.\(token)")
            while let m = try sub.receiveMultipart(dontWait: true) {
                if m.first == bytes("$metro.hello.\(token)") { return true }
            }
            return false
        }
        return sub
    }

    /// Five subscriptions of 1 MiB each used to add ~228 MB of RSS, kept after
    /// the subscribers left. The events socket now refuses any message longer
    /// than a subscription can be (1 + 255 bytes): ZeroMQ drops the sender, and
    /// the broker counts the disconnection. The prefixes here are 1 KiB, not
    /// 1 MiB: libzmq's SUB keeps its own subscriptions in a trie that it frees
    /// recursively, one stack frame per byte, and closing a SUB holding a 1 MiB
    /// prefix overflowed the stack of libzmq's reaper thread in the test process
    /// (docs/performance.md, "Findings about libzmq").
    @Test func subscriptionsLongerThanAnyTopicAreRefusedAtTheSocket() async throws {
        let broker = try await BrokerHarness(config: "journal:\n  fsync: never\n")
        let before = try await broker.stats().disconnects["events"] ?? 0
        var subs: [Socket] = []
        defer { for s in subs { s.close() } }
        for i in 0..<5 {
            let sub = try testContext.socket(.sub)
            try sub.set(.reconnectInterval(milliseconds: 60_000))  // one refusal each, not a loop
            try sub.subscribe(String(repeating: "\(i)", count: 1024))
            try sub.connect(broker.events)
            subs.append(sub)
        }
        try await waitFor("five disconnections on the events socket", timeout: .seconds(20)) {
            (try await broker.stats().disconnects["events"] ?? 0) >= before + 5
        }
        #expect(try await broker.stats().subscriptions == 0, "no long subscription was kept")

        // A long subscription under the limit still works: 245 bytes, the
        // longest that libzmq 4.3.4 itself carries intact (its ZMTP 3.1 encoder
        // garbles SUBSCRIBE commands of 246-255-byte prefixes, libzmq#4367,
        // fixed in 4.3.5; protocol.md §4.4).
        let longest = String(repeating: "t", count: 245)
        let sub = try testContext.socket(.sub)
        defer { sub.close() }
        try sub.subscribe(longest)
        try sub.connect(broker.events)
        let publisher = try testContext.socket(.pub)
        defer { publisher.close() }
        try publisher.connect(broker.publish)
        try await waitFor("an event on the longest topic", timeout: .seconds(10)) {
            try publisher.send(multipart: [bytes(longest), bytes("x")])
            return try sub.receiveMultipart(dontWait: true)?.first == bytes(longest)
        }
        #expect(await broker.stop() == 0)
    }

    /// A subscriber that stops reading holds at most `subscriberBufferBytes` of
    /// events in the broker: with 64 KiB payloads and a 16 MiB budget the events
    /// socket's mark is 126 events, where the old fixed mark of 100,000 let it
    /// hold all 2,000 events (~120 MB) that went through.
    @Test func aStalledSubscriberHoldsNoMoreThanItsByteBudget() async throws {
        let budget = 16 << 20
        let broker = try await BrokerHarness(
            config: """
                limits:
                  maxPayloadBytes: 65536
                  subscriberBufferBytes: \(budget)
                journal:
                  fsync: never
                """)
        let sub = try await Self.stalledSubscriber(broker, token: "stalled")
        defer { sub.close() }
        let baseline = try broker.residentBytes()

        let payload = [UInt8](repeating: 0x5a, count: 60 * 1024)
        let publisher = try Publisher(.init(ingest: broker.ingest))
        try await closing(publisher) {
            let count = 2_000
            for start in stride(from: 0, to: count, by: 100) {
                try await withThrowingTaskGroup(of: UInt64.self) { group in
                    for i in start..<(start + 100) {
                        group.addTask {
                            try await publisher.publish(topic: "load.x", payload: payload, eventID: bytes("b\(i)"))
                        }
                    }
                    try await group.waitForAll()
                }
            }
            let stats = try await broker.stats()
            #expect(stats.accepted == UInt64(count))
            let grown = try broker.residentBytes() - baseline
            print(
                "broker RSS grew by \(grown / 1024) KiB while a subscriber ignored \((count * payload.count) >> 20) MiB"
            )
            // The budget, plus the journal's write buffer and socket buffers.
            #expect(grown < budget + (24 << 20), "grew \(grown) bytes")
            #expect(await broker.stop() == 0)
        }
    }

    /// A number out of its documented range stops the broker at start with the
    /// key's name; before, a huge heartbeat interval trapped in the loop
    /// ("arithmetic overflow") with nothing an operator could act on.
    @Test func configurationNumbersOutOfRangeStopTheBrokerWithTheKeysName() async throws {
        let cases = [
            ("heartbeatIntervalMs: 99999999999999\n", "heartbeatIntervalMs"),
            ("journal:\n  retention:\n    maxAgeHours: 9999999999\n", "journal.retention.maxAgeHours"),
            ("dedupe:\n  windowSeconds: 99999999999\n", "dedupe.windowSeconds"),
            ("limits:\n  sendHighWaterMark: -5\n", "limits.sendHighWaterMark"),
            (
                "limits:\n  eventsHighWaterMark: 100000\n  subscriberBufferBytes: 1048576\n",
                "limits.eventsHighWaterMark"
            ),
        ]
        for (yaml, key) in cases {
            let dir = try TemporaryDirectory()
            let path = dir.url.appendingPathComponent("broker.yaml").path
            try yaml.write(toFile: path, atomically: true, encoding: .utf8)
            let broker = try MetroProcess([
                "broker", "--config", path, "--ingest", "tcp://127.0.0.1:*", "--publish", "tcp://127.0.0.1:*",
                "--events", "tcp://127.0.0.1:*", "--consume", "tcp://127.0.0.1:*", "--metrics", "",
                "--data-dir", dir.url.appendingPathComponent("journal").path,
            ])
            let status = await broker.waitForExit(timeout: .seconds(20))
            #expect(status != nil && status != 0, "\(key): exit \(String(describing: status))")
            // Standard error is collected on another thread: the exit can come before
            // the last line is read (seen in full runs), so wait for the line itself.
            let logged =
                (try? await waitFor("\(key) logged", timeout: .seconds(5)) { broker.stderrText.contains(key) }) != nil
            #expect(logged, "\(key): \(broker.stderrText)")
            #expect(!broker.stderrText.contains("arithmetic overflow"), "\(key): \(broker.stderrText)")
        }
    }
}
