import Foundation
import GRDB
import Profiles

#if canImport(Glibc)
    import Glibc
#endif

/// A real `metro worker profiles` against a test's broker and registry, with its
/// data folder; `start` runs another instance on the same folder (a second
/// instance, or a restart after a crash). Processes are killed when released.
final class ProfilesWorker: @unchecked Sendable {
    let broker: BrokerHarness
    let registry: String
    let data: TemporaryDirectory
    private(set) var process: MetroProcess
    private(set) var ready: [String: String]

    var database: String { data.url.appendingPathComponent("profiles/profiles.sqlite").path }
    var rpc: String { ready["rpc"] ?? "" }

    /// `sharing`: run on that worker's data folder (one database, two instances).
    init(
        broker: BrokerHarness, registry: String, instance: String = "profiles-1", environment: [String: String] = [:],
        extra: [String] = [], sharing: ProfilesWorker? = nil
    ) throws {
        self.broker = broker
        self.registry = registry
        data = try sharing?.data ?? TemporaryDirectory()
        (process, ready) = try Self.start(broker, registry, data.path, instance, environment, extra)
    }

    /// `init` off the cooperative pool: starting waits for the ready line.
    static func launch(
        broker: BrokerHarness, registry: String, instance: String = "profiles-1", environment: [String: String] = [:],
        extra: [String] = [], sharing: ProfilesWorker? = nil
    ) async throws -> ProfilesWorker {
        try await offThePool {
            try ProfilesWorker(
                broker: broker, registry: registry, instance: instance, environment: environment, extra: extra,
                sharing: sharing)
        }
    }

    /// `restart` off the cooperative pool.
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
                "worker", "profiles", "--broker-ingest", broker.ingest, "--broker-consume", broker.consume,
                "--registry", registry, "--data", data, "--instance", instance,
            ] + extra, environment: environment)
        return (p, try p.waitUntilReady())
    }

    /// Reads the service's database directly (WAL: never in the worker's way).
    func read<T>(_ body: (Database) throws -> T) throws -> T {
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(5)
        let db = try DatabaseQueue(path: database, configuration: configuration)
        defer { try? db.close() }
        return try db.read(body)
    }

    /// The history rows of `user` (video id), in insertion order.
    func historyRows(_ user: String) throws -> [String] {
        try read {
            try String.fetchAll(
                $0, sql: "SELECT video_id FROM watch_history WHERE user_id = ? ORDER BY seq", arguments: [user])
        }
    }

    /// Topics of every `metro_outbox` row, in outbox order.
    func outboxTopics() throws -> [String] {
        try read { try String.fetchAll($0, sql: "SELECT topic FROM metro_outbox ORDER BY seq") }
    }

    /// `metro_service_rpc_requests_total` of `method`, all codes, from the
    /// worker's metrics endpoint (started with `--metrics 127.0.0.1:0`).
    func rpcRequests(_ method: String) throws -> Int {
        let text = try httpGet(ready["metrics"] ?? "", path: "/metrics")
        return text.split(separator: "\n").filter {
            $0.hasPrefix("metro_service_rpc_requests_total{") && $0.contains("method=\"\(method)\"")
        }.compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }.reduce(0) { $0 + Int($1) }
    }

    /// Rows of `metro_outbox` not yet marked sent.
    func unsentOutbox() throws -> Int {
        try read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM metro_outbox WHERE sent_at IS NULL") ?? 0 }
    }
}
