import BenchSupport
import Foundation
import GRDB
import MetroKit
import MetroProtocol
import Profiles
import Synchronization

/// Events/s through the runtime's inbox: `events` acknowledged publishes, timed
/// from the first publish until the worker instances have committed every effect
/// (the effect rows counted in their SQLite file, polled every 5 ms); for `echo`
/// also until its outbox is relayed (every row marked sent). The baseline, in the
/// same round: the same number of events through as many bare `Consumer`s that ACK
/// at once (no SQLite, no runtime), on a topic of their own. CPU per event is
/// user + system time of the worker processes (and of the broker) from /proc.
struct EventsBench {
    enum Kind {
        /// `video.watched` → one watch-history row and the inbox row, one transaction.
        case profiles
        /// `echo.bench` → an `echo_events` row, an outbox row (`echo.recorded`, relayed
        /// and then delivered back to the group, where it gets an inbox-only commit).
        case echo
    }

    let stack: BenchStack
    let kind: Kind
    let events: Int
    let instances: [Int]
    let rounds: Int
    let window: Int

    struct Run {
        var rate: Double
        var publishRate: Double
        /// echo: events/s until the outbox was relayed too.
        var relayedRate: Double?
        var workerCPU: Double
        var brokerCPU: Double
    }

    var service: String { kind == .profiles ? "profiles" : "echo" }

    func run() async throws {
        let publisher = try Publisher(.init(ingest: stack.ingest))
        var workers: [ChildProcess] = []
        var userID = ""
        print(
            "\nevents: \(events) acknowledged publishes per row and round, \(rounds) rounds (median by rate), worker \(service)"
        )
        print(
            "path                                   instances   events/s   publish/s   worker CPU µs/ev   broker CPU µs/ev"
        )
        do {
            for n in instances {
                while workers.count < n {
                    workers.append(
                        try stack.worker(
                            service, instance: "\(service)-ev\(workers.count + 1)", data: "\(service)-events"))
                }
                if userID.isEmpty && kind == .profiles { userID = try await createUser(workers[0]) }
                let database = try openDatabase()
                var base: [Run] = []
                var runtime: [Run] = []
                for round in 0..<rounds {
                    base.append(try await baseline(publisher, members: n, round: round))
                    runtime.append(try await throughWorkers(publisher, workers, database, user: userID, round: round))
                }
                try database.close()
                let b = median(base) { $0.rate }
                let r = median(runtime) { $0.rate }
                print(row("bare Consumer, ACK at once", n, b))
                print(row("metro worker \(service) (inbox)", n, r))
                if kind == .echo {
                    print(
                        pad("  … until its outbox is relayed", 39) + pad(String(n), 10)
                            + String(format: "%9.0f", r.relayedRate ?? .nan))
                }
                print(String(format: "  %d instance(s): worker/bare %.2f", n, r.rate / b.rate))
            }
        } catch {
            await publisher.close()
            throw error
        }
        await publisher.close()
    }

    private func row(_ name: String, _ n: Int, _ r: Run) -> String {
        pad(name, 39) + pad(String(n), 10)
            + String(
                format: "%9.0f   %9.0f   %16.1f   %16.1f", r.rate, r.publishRate, r.workerCPU * 1e6, r.brokerCPU * 1e6)
    }

    private func createUser(_ worker: ChildProcess) async throws -> String {
        let client = try RpcClient(endpoints: [worker.ready["rpc"]!])
        do {
            let user = try await client.call(
                ProfilesAPI.create, CreateProfileRequest(displayName: "Watcher", email: "watcher@example.com"))
            await client.close()
            return user.id
        } catch {
            await client.close()
            throw error
        }
    }

    private func openDatabase() throws -> DatabaseQueue {
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(5)
        return try DatabaseQueue(
            path: stack.folder + "/\(service)-events/\(service)/\(service).sqlite", configuration: configuration)
    }

    /// Publishes `events` events with at most 512 publishes waiting at once; returns the publish time.
    private func publishAll(_ publisher: Publisher, topic: String, payload: @escaping @Sendable (Int) -> [UInt8])
        async throws -> Duration
    {
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<events {
                if i >= 512 { try await group.next() }
                group.addTask { _ = try await publisher.publish(topic: topic, payload: payload(i)) }
            }
            try await group.waitForAll()
        }
        return ContinuousClock.now - start
    }

    private func baseline(_ publisher: Publisher, members: Int, round: Int) async throws -> Run {
        let tag = "\(round)-\(members)-\(UUID().uuidString.prefix(8))"
        let topic = "bench.base.\(tag)"
        let consumers = try (0..<members).map { m in
            var options = Consumer.Options(
                consume: stack.consume, group: "bench-base-\(tag)", member: "m\(m)",
                config: .init(prefixes: [topic]))
            options.window = UInt32(window)
            return try Consumer(options)
        }
        let progress = Progress(total: events)
        let readers = consumers.map { consumer in
            Task {
                for await d in consumer.deliveries {
                    consumer.ack(d)
                    progress.acked()
                }
            }
        }
        // Joined before the clock starts (the group starts at the earliest event anyway).
        try await waitFor("baseline members joined") { consumers.allSatisfy { $0.joins > 0 } }
        let brokerCPU0 = stack.broker.cpuSeconds
        let start = ContinuousClock.now
        let payload = Array("{\"n\":1}".utf8)
        let published = try await publishAll(publisher, topic: topic) { _ in payload }
        try await waitFor("\(events) ACKs") { progress.doneAt != nil }
        let brokerCPU = stack.broker.cpuSeconds - brokerCPU0
        let elapsed = progress.doneAt! - start
        for c in consumers { await c.close() }
        for r in readers { await r.value }
        return Run(
            rate: Double(events) / seconds(elapsed), publishRate: Double(events) / seconds(published), relayedRate: nil,
            workerCPU: 0, brokerCPU: brokerCPU / Double(events))
    }

    private func throughWorkers(
        _ publisher: Publisher, _ workers: [ChildProcess], _ db: DatabaseQueue, user: String, round: Int
    ) async throws -> Run {
        let effects = kind == .profiles ? "SELECT COUNT(*) FROM watch_history" : "SELECT COUNT(*) FROM echo_events"
        let before = try await db.read { try Int.fetchOne($0, sql: effects) ?? 0 }
        let cpu0 = cpuSeconds(workers)
        let brokerCPU0 = stack.broker.cpuSeconds
        let start = ContinuousClock.now
        let tag = "r\(round)-\(UUID().uuidString.prefix(8))"
        let published: Duration
        switch kind {
        case .profiles:
            published = try await publishAll(publisher, topic: ProfileTopics.videoWatched) { i in
                Array("{\"userId\":\"\(user)\",\"videoId\":\"v-\(tag)-\(i)\",\"watchedAtMs\":\(i)}".utf8)
            }
        case .echo:
            published = try await publishAll(publisher, topic: "echo.bench") { i in
                Array("{\"text\":\"\(tag)-\(i)\"}".utf8)
            }
        }
        let target = before + events
        try await waitFor("\(events) effects committed", interval: .milliseconds(5)) {
            try await db.read { try Int.fetchOne($0, sql: effects) ?? 0 } >= target
        }
        let committed = ContinuousClock.now - start
        var relayed: Duration?
        if kind == .echo {
            try await waitFor("the outbox relayed", interval: .milliseconds(5)) {
                try await db.read {
                    try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM metro_outbox WHERE sent_at IS NULL") ?? 1
                } == 0
            }
            relayed = ContinuousClock.now - start
        }
        let cpu = cpuSeconds(workers) - cpu0
        let brokerCPU = stack.broker.cpuSeconds - brokerCPU0
        return Run(
            rate: Double(events) / seconds(committed), publishRate: Double(events) / seconds(published),
            relayedRate: relayed.map { Double(events) / seconds($0) }, workerCPU: cpu / Double(events),
            brokerCPU: brokerCPU / Double(events))
    }
}

func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }

/// Polls `condition` every `interval` until it holds; fails after `timeout`.
func waitFor(
    _ what: String, timeout: Duration = .seconds(300), interval: Duration = .milliseconds(1),
    _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while true {
        if try await condition() { return }
        guard ContinuousClock.now < deadline else { throw BenchError("timed out waiting for \(what)") }
        try await Task.sleep(for: interval)
    }
}

/// The baseline's ACK count, and when it reached `total`.
final class Progress: Sendable {
    private let count = Atomic<Int>(0)
    private let done = Mutex<ContinuousClock.Instant?>(nil)
    let total: Int

    init(total: Int) { self.total = total }

    func acked() {
        if count.add(1, ordering: .relaxed).newValue == total { done.withLock { $0 = .now } }
    }

    var doneAt: ContinuousClock.Instant? { done.withLock { $0 } }
}
