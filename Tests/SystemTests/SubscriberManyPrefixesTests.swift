import Foundation
import MetroKit
import MetroProtocol
import MetroTestKit
import Testing

extension BrokerSystemTests {
    /// A SUB sends its whole subscription set on connect, in trie order, and libzmq
    /// drops what does not fit its ZMQ_SNDHWM (1,000 by default) without a word
    /// (found by the fan-out bench, docs/performance.md). A `Subscriber` of 3,000
    /// prefixes still gets events on the last of them, in trie order, and on a
    /// prefix that sorts after them all.
    @Test func aSubscriberOfThousandsOfPrefixesKeepsEveryOne() async throws {
        let broker = try await BrokerHarness(config: "journal:\n  fsync: never\n")
        let prefixes = (0..<3000).map { String(format: "p.%04d.", $0) } + ["zz."]
        let sub = try Subscriber(.init(events: broker.events, prefixes: prefixes))
        let publisher = try Publisher(.init(ingest: broker.ingest))
        try await closing(publisher, sub) {
            let (got, task) = collect(sub)
            defer { task.cancel() }
            _ = try await sub.waitUntilLive(timeout: .seconds(30))
            for topic in ["p.0000.a", "p.2999.a", "zz.a"] {
                _ = try await publisher.publish(topic: topic, payload: Array("x".utf8))
            }
            try await eventually("the three events") { got.withLock { $0.count } >= 3 }
            #expect(got.withLock { $0.map(\.topic) } == ["p.0000.a", "p.2999.a", "zz.a"])
        }
    }
}
