import Foundation
import Logging
import MetroKit
import MetroProtocol
import MetroTestKit
import ServiceLifecycle
import Testing

/// The life of MetroKit's clients against a real broker: closing from many tasks at
/// once, and a client run as a swift-service-lifecycle `Service`.
extension BrokerSystemTests {
    /// Every client's `close()` awaited by many tasks at once, while publishes wait:
    /// nothing blocks a thread of the cooperative pool (two threads on a two-core
    /// machine), so none of this can deadlock it. Before the `IOThread`, `close()`
    /// waited on a semaphore on the pool thread that called it.
    @Test(.timeLimit(.minutes(1)))
    func closingEveryClientFromManyTasksAtOnceDoesNotBlockThePool() async throws {
        let broker = try await BrokerHarness(config: "journal:\n  fsync: never\n")
        let publishers = try (0..<4).map { _ in try Publisher(.init(ingest: broker.ingest)) }
        let subscribers = try (0..<4).map { _ in try Subscriber(.init(events: broker.events, prefixes: ["a."])) }
        let consumers = try (0..<4).map { i in
            try Consumer(.init(consume: broker.consume, group: "g", member: "m\(i)", config: .init(prefixes: ["a."])))
        }
        for p in publishers { #expect(try await p.publish(topic: "a.b", payload: [1]) > 0) }
        for s in subscribers { _ = try await s.waitUntilLive() }
        for c in consumers { _ = c.deliveries }
        let clients: [any AsyncClosable] = publishers + subscribers + consumers
        // Publishes in flight while everything closes: each ends with a seq or `.closed`.
        let outcomes = Locked([MetroClientError.Code?]())
        await withTaskGroup(of: Void.self) { group in
            for (i, p) in publishers.enumerated() {
                for j in 0..<50 {
                    group.addTask {
                        do {
                            _ = try await p.publish(
                                topic: "a.b", payload: [UInt8(j)], eventID: Array("e\(i)-\(j)".utf8))
                            outcomes.withLock { $0.append(nil) }
                        } catch let e as MetroClientError {
                            outcomes.withLock { $0.append(e.code) }
                        } catch {
                            Issue.record("unexpected \(error)")
                        }
                    }
                }
            }
            for _ in 0..<64 {
                group.addTask { for c in clients { await c.close() } }
            }
        }
        #expect(outcomes.withLock { $0.count } == 200)
        #expect(outcomes.withLock { $0.allSatisfy { $0 == nil || $0 == .closed } })
        for p in publishers {
            await #expect { try await p.publish(topic: "a.b", payload: [1]) } throws: {
                ($0 as? MetroClientError)?.code == .closed
            }
        }
        #expect(await broker.stop() == 0)
    }

    /// A `Publisher` in a `ServiceGroup`: it serves while the group runs, and the
    /// group's graceful shutdown ends its I/O thread; later publishes fail with `.closed`.
    @Test(.timeLimit(.minutes(1)))
    func aPublisherRunsAsAServiceUntilGracefulShutdown() async throws {
        let broker = try await BrokerHarness(config: "journal:\n  fsync: never\n")
        let publisher = try Publisher(.init(ingest: broker.ingest))
        let group = ServiceGroup(configuration: .init(services: [publisher], logger: Logger(label: "test")))
        let running = Task { try await group.run() }
        #expect(try await publisher.publish(topic: "a.b", payload: [1]) > 0)
        await group.triggerGracefulShutdown()
        try await running.value
        let error = await #expect(throws: MetroClientError.self) {
            try await publisher.publish(topic: "a.b", payload: [2])
        }
        #expect(error?.code == .closed && error?.category == .unavailable)
        #expect(await broker.stop() == 0)
    }
}

extension BrokerSystemTests {
    /// A broker that is stopped (SIGSTOP) never says hello: `waitUntilLive` must throw
    /// `.timedOut` after its timeout, not wait on for a hello that cannot come.
    @Test(.timeLimit(.minutes(1)))
    func waitUntilLiveTimesOutWhenTheBrokerNeverSaysHello() async throws {
        let broker = try await BrokerHarness(config: "journal:\n  fsync: never\n")
        let subscriber = try Subscriber(.init(events: broker.events, prefixes: ["a."]))
        try await broker.process.freeze()
        try await closing(subscriber) {
            let started = ContinuousClock.now
            let outcome = Locked<Result<UInt64, any Error>?>(nil)
            let waiting = Task {
                let r: Result<UInt64, any Error>
                do { r = .success(try await subscriber.waitUntilLive(timeout: .milliseconds(300))) } catch {
                    r = .failure(error)
                }
                outcome.withLock { $0 = r }
            }
            // Without the fix the call never returned (the timed-out waiter kept the
            // task group open): fail instead of hanging, and let `close()` end it.
            do {
                try await eventually("waitUntilLive to return", timeout: .seconds(10)) {
                    outcome.withLock { $0 != nil }
                }
            } catch {
                Issue.record(error)
                await subscriber.close()
            }
            await waiting.value
            let error = outcome.withLock { r -> MetroClientError? in
                guard case .failure(let e)? = r else { return nil }
                return e as? MetroClientError
            }
            #expect(error?.code == .timedOut && error?.category == .timeout)
            #expect(ContinuousClock.now - started >= .milliseconds(300))
            broker.process.kill(SIGCONT)
            // The waiter that timed out is gone; a new wait sees the hello.
            _ = try await subscriber.waitUntilLive()
        }
        #expect(await broker.stop() == 0)
    }
}
