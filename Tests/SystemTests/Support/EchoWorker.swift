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

    init(
        broker: BrokerHarness, registry: String, instance: String = "echo-1", environment: [String: String] = [:],
        extra: [String] = []
    ) throws {
        self.broker = broker
        self.registry = registry
        data = try TemporaryDirectory()
        (process, ready) = try Self.start(broker, registry, data.path, instance, environment, extra)
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
