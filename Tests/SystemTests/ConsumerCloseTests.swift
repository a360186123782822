import Foundation
import MetroKit
import MetroProtocol
import MetroTestKit
import Testing

/// A service that ACKs its last delivery and closes at once (the natural end of
/// a worker, and what Examples/hello-service does) must not find that delivery
/// redelivered: the ACK queued before `close()` still reaches the broker.
@Suite struct ConsumerCloseTests {
    @Test func anAckQueuedJustBeforeCloseReachesTheBroker() async throws {
        let broker = try await BrokerHarness(config: "heartbeatIntervalMs: 200\njournal:\n  fsync: never\n")
        let publisher = try Publisher(.init(ingest: broker.ingest))
        try await closing(publisher) {
            for round in 0..<5 {
                _ = try await publisher.publish(
                    topic: "job.close", payload: bytes("p\(round)"), eventID: bytes("close-\(round)"))
                var o = Consumer.Options(
                    consume: broker.consume, group: "closers", member: "c\(round)", config: .init(prefixes: ["job."]))
                o.window = 1
                let consumer = try Consumer(o)
                var taken: Consumer.Delivery?
                for await d in consumer.deliveries {
                    taken = d
                    consumer.ack(d)
                    break
                }
                await consumer.close()
                let d = try #require(taken)
                #expect(d.attempt == 1, "round \(round): seq \(d.seq) came again (attempt \(d.attempt))")
                try await eventually("round \(round): nothing pending") {
                    try await broker.stats().groups["closers"]?.pending == 0
                }
            }
            let g = try #require(try await broker.stats().groups["closers"])
            #expect(g.redelivered == 0)
        }
        #expect(await broker.stop() == 0)
    }
}
