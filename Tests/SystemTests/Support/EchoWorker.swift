import Foundation
import GRDB

#if canImport(Glibc)
    import Glibc
#endif

/// A real `metro worker echo` (the runtime's smoke service) against a test's broker
/// and registry, with its data folder; `restart` runs a new process on the same
/// folder. The process is killed when the harness is released.
final class EchoWorker: @unchecked Sendable {
    let broker: BrokerHarness
    let registry: String
    let data: TemporaryDirectory
    private(set) var process: MetroProcess
    private(set) var ready: [String: String]

    var database: String { data.url.appendingPathComponent("echo/echo.sqlite").path }

    /// `sharing`: run on another worker's data folder (instances on one host share the database).
    init(
        broker: BrokerHarness, registry: String, instance: String = "echo-1", environment: [String: String] = [:],
        extra: [String] = [], sharing: EchoWorker? = nil
    ) throws {
        self.broker = broker
        self.registry = registry
        data = try sharing?.data ?? TemporaryDirectory()
        (process, ready) = try Self.start(broker, registry, data.path, instance, environment, extra)
    }

    /// Starts one and waits for its ready line on a thread of its own: the
    /// cooperative pool stays free for the other tests' in-process servers.
    static func launch(
        broker: BrokerHarness, registry: String, instance: String = "echo-1", environment: [String: String] = [:],
        extra: [String] = [], sharing: EchoWorker? = nil
    ) async throws -> EchoWorker {
        try await offThePool {
            try EchoWorker(
                broker: broker, registry: registry, instance: instance, environment: environment, extra: extra,
                sharing: sharing)
        }
    }

    /// `restart`, waiting off the pool.
    func relaunch(instance: String, environment: [String: String] = [:], extra: [String] = []) async throws {
        try await offThePool { try self.restart(instance: instance, environment: environment, extra: extra) }
    }

    /// Waits for the process to exit (off the pool); its status, or nil after `timeout`.
    func exit(timeout: Duration = .seconds(15)) async -> Int32? {
        (try? await offThePool { self.process.waitForExit(timeout: timeout) }) ?? nil
    }

    /// A new process on the same data folder (after a crash or a stop).
    func restart(instance: String, environment: [String: String] = [:], extra: [String] = []) throws {
        (process, ready) = try Self.start(broker, registry, data.path, instance, environment, extra)
    }

    private static func start(
        _ broker: BrokerHarness, _ registry: String, _ data: String, _ instance: String,
        _ environment: [String: String], _ extra: [String]
    ) throws -> (MetroProcess, [String: String]) {
        let p = try MetroProcess(
            [
                "worker", "echo", "--broker-ingest", broker.ingest, "--broker-consume", broker.consume, "--registry",
                registry, "--data", data, "--instance", instance,
            ] + extra, environment: environment)
        return (p, try p.waitUntilReady())
    }

    /// Rows of `echo_events` (event id, attempt), in insertion order.
    func effects() throws -> [(eventID: String, attempt: Int)] {
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        let db = try DatabaseQueue(path: database, configuration: configuration)
        defer { try? db.close() }
        return try db.read { db in
            try Row.fetchAll(db, sql: "SELECT event_id, attempt FROM echo_events ORDER BY id").map {
                (eventID: $0["event_id"], attempt: $0["attempt"])
            }
        }
    }

    /// Rows of `metro_outbox` not yet marked sent.
    func unsentOutbox() throws -> Int {
        let db = try DatabaseQueue(path: database)
        defer { try? db.close() }
        return try db.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM metro_outbox WHERE sent_at IS NULL") ?? 0 }
    }
}
