import Foundation
import GRDB
import MetroTestKit

#if canImport(Glibc)
    import Glibc
#endif

/// Which `metro worker <service>` a `ServiceWorker` runs.
protocol WorkerKind {
    /// The subcommand and service name (`echo`, `profiles`).
    static var service: String { get }
    /// The prefixes of its rpc method names (`ServiceStack.call` routes by them);
    /// `<service>.` unless the kind says otherwise.
    static var methodPrefixes: [String] { get }
}

extension WorkerKind {
    static var methodPrefixes: [String] { [service + "."] }
}

/// `metro worker echo`, the runtime's smoke service.
enum EchoKind: WorkerKind { static let service = "echo" }
/// `metro worker profiles` (methods `profile.*`).
enum ProfilesKind: WorkerKind {
    static let service = "profiles"
    static let methodPrefixes = ["profile."]
}
/// `metro worker video` (methods `video.*`).
enum VideoKind: WorkerKind { static let service = "video" }
/// `metro worker recommendations` (methods `recommendations.*`).
enum RecommendationsKind: WorkerKind { static let service = "recommendations" }

typealias EchoWorker = ServiceWorker<EchoKind>
typealias ProfilesWorker = ServiceWorker<ProfilesKind>
typealias VideoWorker = ServiceWorker<VideoKind>
typealias RecommendationsWorker = ServiceWorker<RecommendationsKind>

/// A real `metro worker <service>` against a test's broker and registry, with its
/// data folder; `restart`/`relaunch` run a new process on the same folder (after a
/// crash or a stop), and `sharing:` starts a second instance on another's folder
/// (instances on one host share the database). Processes are killed when released.
final class ServiceWorker<Kind: WorkerKind>: @unchecked Sendable {
    let broker: BrokerHarness
    let registry: String
    let data: TemporaryDirectory
    private(set) var process: MetroProcess
    private(set) var ready: [String: String]

    var database: String { data.url.appendingPathComponent("\(Kind.service)/\(Kind.service).sqlite").path }
    /// The rpc endpoint from the ready line.
    var rpc: String { ready["rpc"] ?? "" }

    init(
        broker: BrokerHarness, registry: String, instance: String = "\(Kind.service)-1",
        environment: [String: String] = [:], extra: [String] = [], sharing: ServiceWorker? = nil
    ) async throws {
        self.broker = broker
        self.registry = registry
        data = try sharing?.data ?? TemporaryDirectory()
        (process, ready) = try await Self.start(broker, registry, data.path, instance, environment, extra)
    }

    /// Starts one and waits for its ready line (the kit's waits never hold a pool thread).
    static func launch(
        broker: BrokerHarness, registry: String, instance: String = "\(Kind.service)-1",
        environment: [String: String] = [:], extra: [String] = [], sharing: ServiceWorker? = nil
    ) async throws -> ServiceWorker {
        try await ServiceWorker(
            broker: broker, registry: registry, instance: instance, environment: environment, extra: extra,
            sharing: sharing)
    }

    /// A new process on the same data folder (after a crash or a stop).
    func relaunch(instance: String, environment: [String: String] = [:], extra: [String] = []) async throws {
        try await restart(instance: instance, environment: environment, extra: extra)
    }

    /// A new process on the same data folder (after a crash or a stop).
    func restart(instance: String, environment: [String: String] = [:], extra: [String] = []) async throws {
        (process, ready) = try await Self.start(broker, registry, data.path, instance, environment, extra)
    }

    /// Waits for the process to exit; its status, or nil after `timeout`.
    func exit(timeout: Duration = .seconds(60)) async -> Int32? {
        await process.waitForExit(timeout: timeout)
    }

    private static func start(
        _ broker: BrokerHarness, _ registry: String, _ data: String, _ instance: String,
        _ environment: [String: String], _ extra: [String]
    ) async throws -> (MetroProcess, [String: String]) {
        // The rpc port comes from `TestPorts`, never from the kernel: after a kill -9 the
        // registry still lists the dead instance's endpoint until its lease runs out, and
        // an ephemeral port was handed to another test's worker in a full run, whose
        // database then answered this test's calls 404 (ProfilesLoadTests, 2026-12-03).
        let rpcBind = extra.contains("--rpc-bind") ? [] : ["--rpc-bind", "tcp://127.0.0.1:\(TestPorts.next())"]
        let p = try MetroProcess(
            [
                "worker", Kind.service, "--broker-ingest", broker.ingest, "--broker-consume", broker.consume,
                "--registry", registry, "--data", data, "--instance", instance,
            ] + rpcBind + extra, environment: environment)
        return (p, try await p.waitUntilReady())
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

    /// Writes to the service's database directly, in one transaction (a test
    /// setting up what a crash would have left, or seeding rows). If the worker
    /// runs, this waits up to 5 s for its write lock rather than failing busy.
    func write(_ body: (Database) throws -> Void) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        let db = try DatabaseQueue(path: database, configuration: configuration)
        defer { try? db.close() }
        try db.write(body)
    }

    /// Rows of `metro_outbox` not yet marked sent.
    func unsentOutbox() throws -> Int {
        try read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM metro_outbox WHERE sent_at IS NULL") ?? 0 }
    }

    /// Topics of every `metro_outbox` row, in outbox order.
    func outboxTopics() throws -> [String] {
        try read { try String.fetchAll($0, sql: "SELECT topic FROM metro_outbox ORDER BY seq") }
    }

    /// `metro_service_rpc_requests_total` of `method`, all codes, from the
    /// worker's metrics endpoint (started with `--metrics 127.0.0.1:0`).
    func rpcRequests(_ method: String) async throws -> Int {
        let text = try await httpGet(ready["metrics"] ?? "", path: "/metrics")
        return text.split(separator: "\n").filter {
            $0.hasPrefix("metro_service_rpc_requests_total{") && $0.contains("method=\"\(method)\"")
        }.compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }.reduce(0) { $0 + Int($1) }
    }
}

extension ServiceWorker where Kind == EchoKind {
    /// Rows of `echo_events` (event id, attempt), in insertion order.
    func effects() throws -> [(eventID: String, attempt: Int)] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT event_id, attempt FROM echo_events ORDER BY id").map {
                (eventID: $0["event_id"], attempt: $0["attempt"])
            }
        }
    }
}

extension ServiceWorker where Kind == ProfilesKind {
    /// The history rows of `user` (video id), in insertion order.
    func historyRows(_ user: String) throws -> [String] {
        try read {
            try String.fetchAll(
                $0, sql: "SELECT video_id FROM watch_history WHERE user_id = ? ORDER BY seq", arguments: [user])
        }
    }
}
