import Foundation
import MetroKit
import MetroProtocol
import MetroTestKit
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A broker paused (SIGSTOP) for longer than 3 heartbeat intervals loses every
/// group member on its first turn after SIGCONT, while the members have given up
/// on it and rejoined on new connections; the deliveries they were working on
/// finish and are ACKed on the new connection (protocol.md §4.10). The group must
/// come out of that with every event handled and nothing pending: the 10-minute
/// chaos soak once ended with the recommendations group stuck at 8 pending and
/// no progress after a broker pause (docs/operations.md, "What the first
/// 10-minute chaos soaks found").
@Suite struct GroupBrokerPauseTests {
    @Test(.timeLimit(.minutes(2)))
    func aGroupDrainsAfterTheBrokerIsPausedLongerThanTheMemberTimeout() async throws {
        let broker = try await BrokerHarness(config: "journal:\n  fsync: never\n")
        let publisher = try Publisher(.init(ingest: broker.ingest))
        var options = Consumer.Options(
            consume: broker.consume, group: "workers", member: "worker", config: .init(prefixes: ["job."]))
        options.window = 8  // the runtime's default handler concurrency, as in the soak
        let consumer = try Consumer(options)
        let handled = Locked<Set<UInt64>>([])
        try await closing(publisher) {
            try await closing(consumer) {
                // Like the runtime's EventSubscription: 8 handlers at most, each
                // taking a few milliseconds before its ACK.
                let work = Task {
                    await withTaskGroup(of: Void.self) { handlers in
                        var running = 0
                        for await d in consumer.deliveries {
                            if running >= 8 {
                                await handlers.next()
                                running -= 1
                            }
                            handlers.addTask {
                                try? await Task.sleep(for: .milliseconds(Int(d.seq % 7) * 3 + 5))
                                handled.withLock { _ = $0.insert(d.seq) }
                                consumer.ack(d)
                            }
                            running += 1
                        }
                    }
                }
                defer { work.cancel() }
                let publishing = Task {
                    var seqs: [UInt64] = []
                    for i in 0..<60 {
                        seqs += try await publishMany(publisher, count: 25, topics: ["job.a"], idPrefix: "p\(i)")
                        try await Task.sleep(for: .milliseconds(100))
                    }
                    return seqs
                }
                for _ in 0..<2 {
                    try await Task.sleep(for: .seconds(1.5))
                    try await broker.process.freeze()
                    try await Task.sleep(for: .seconds(4))  // > 3 × the 1 s heartbeat: every member is lost
                    broker.process.thaw()
                }
                let published = Set(try await publishing.value)
                #expect(published.count == 1500)
                try await eventually("every published event handled", timeout: .seconds(30)) {
                    handled.withLock { published.isSubset(of: $0) }
                }
                try await eventually("the group drained", timeout: .seconds(10)) {
                    let g = try await broker.stats().groups["workers"]
                    return g?.pending == 0 && g?.lag == 0 && g?.members == 1
                }
            }
        }
        #expect(await broker.stop() == 0)
    }
}
