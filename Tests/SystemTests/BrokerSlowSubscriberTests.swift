import Foundation
import MetroKit
import MetroProtocol
import MetroTestKit
import Testing
import ZeroMQ

extension BrokerSystemTests {
    @Test func aSubscriberThatStopsReadingKeepsTheBrokersMemoryBounded() async throws {
        let broker = try await BrokerHarness(
            config: """
                limits:
                  sendHighWaterMark: 1000
                  receiveHighWaterMark: 1000
                journal:
                  fsync: never
                """)
        // A raw SUB that subscribes to everything, waits for its hello, then never reads.
        let sub = try testContext.socket(.sub)
        defer { sub.close() }
        try sub.set(.receiveHighWaterMark(100))
        try sub.set(.receiveBufferSize(64 * 1024))
        try sub.subscribe("")
        try sub.connect(broker.events)
        try await waitFor("the hello", timeout: .seconds(10)) {
            try sub.subscribe("$metro.hello.slow")
            return try sub.receiveMultipart(dontWait: true)?.first == bytes("$metro.hello.slow")
        }
        let baseline = try broker.residentBytes()

        // 100 MB of events through the broker: 50,000 of 2 KB.
        let payload = [UInt8](repeating: 0x5a, count: 2048)
        let publisher = try Publisher(.init(ingest: broker.ingest))
        try await closing(publisher) {
            let count = 50_000
            try await withThrowingTaskGroup(of: UInt64.self) { group in
                for i in 0..<count {
                    group.addTask {
                        try await publisher.publish(topic: "load.x", payload: payload, eventID: Array("s\(i)".utf8))
                    }
                }
                try await group.waitForAll()
            }
            let stats = try await broker.stats()
            #expect(stats.accepted == UInt64(count))
            #expect(stats.delivered == UInt64(count))
            let grown = try broker.residentBytes() - baseline
            print("broker RSS grew by \(grown / 1024) KiB while a subscriber ignored 100 MB")
            // High-water marks of 1,000 events of ~2 KB, plus socket buffers and the
            // journal's write buffer: far below the 100 MB that went through.
            #expect(grown < 40 << 20)
            // The stalled subscriber holds at most its own HWM and buffers, not everything.
            var drained = 0
            while try sub.receiveMultipart(dontWait: true) != nil { drained += 1 }
            #expect(drained < count)
            #expect(await broker.stop() == 0)
        }
    }
}
