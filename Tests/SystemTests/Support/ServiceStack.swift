import Foundation
import MetroKit
import MetroProtocol
import MetroTestKit

#if canImport(Glibc)
    import Glibc
#endif

/// A whole Metro deployment for one test, with real processes on loopback: a
/// broker, a registry that publishes membership events through it, any number of
/// `metro worker <service>` instances of each kind, an acknowledged `Publisher`,
/// and `RpcClient`s that find the services through the registry, as a gateway
/// does. Any part can be stopped, killed (-9) and restarted; every process is
/// killed when the stack is released, and `close()` (or `closing(stack)`) closes
/// the clients first.
///
/// Instances of one kind share one data folder (the first instance's), as
/// instances on one host do: one database, one inbox, one blob store. Each start
/// or restart gets a new instance id (`<service>-<n>`), so a restart never meets
/// the lease of the instance it replaces.
///
/// The registry listens on a `TestPorts` endpoint, so that `restartRegistry()`
/// finds its port free; the broker keeps the harness's ephemeral ports.
///
/// Threading: one test (one task) drives a stack at a time, like `BrokerHarness`.
final class ServiceStack: AsyncClosable, @unchecked Sendable {
    /// Heartbeats every 200 ms (a killed member is noticed in about 0.6 s), no fsync.
    static let brokerConfig = "heartbeatIntervalMs: 200\njournal:\n  fsync: never\n"

    let broker: BrokerHarness
    private(set) var registry: RegistryUnderTest
    /// Follows membership events, so that an instance leaving fails its calls at once.
    let registryClient: RegistryClient
    let publisher: Publisher
    private var workers: [String: [AnyObject]] = [:]
    private var instancesStarted: [String: Int] = [:]
    /// Which service answers a method, by method-name prefix (`WorkerKind.methodPrefixes`).
    private var services: [(prefix: String, service: String)] = []
    private var clients: [String: RpcClient] = [:]
    private var collectors: [LiveCollector] = []

    /// Whether the registry publishes membership events through the broker.
    let membershipEvents: Bool

    /// Starts the broker (with `brokerConfig` as its YAML) and the registry; no
    /// worker yet. `membershipEvents: false` keeps the registry's events out of the
    /// journal, for a test that counts every event the broker accepts.
    init(brokerConfig: String = ServiceStack.brokerConfig, membershipEvents: Bool = true) async throws {
        self.membershipEvents = membershipEvents
        broker = try await BrokerHarness(config: brokerConfig)
        let endpoint = try TestPorts.freeEndpoints(1)[0]
        registry = try await RegistryUnderTest(endpoint: endpoint, broker: membershipEvents ? broker.publish : nil)
        registryClient = try RegistryClient(
            configuration: .init(endpoints: [endpoint], eventsEndpoint: broker.events, cacheMaxAge: .seconds(2)))
        publisher = try Publisher(.init(ingest: broker.ingest))
    }

    /// Closes the rpc clients, collectors, publisher and registry client; the
    /// processes die with the stack.
    func close() async {
        for c in clients.values { await c.close() }
        for c in collectors { await c.close() }
        await publisher.close()
        await registryClient.close()
    }

    // MARK: Workers

    /// Starts `count` more instances of `Kind`, one after the other (the first one
    /// creates the database), and returns once each printed its ready line and the
    /// registry lists every running instance of the service.
    @discardableResult
    func start<Kind: WorkerKind>(
        _ kind: Kind.Type, count: Int = 1, environment: [String: String] = [:], extra: [String] = []
    ) async throws -> [ServiceWorker<Kind>] {
        var started: [ServiceWorker<Kind>] = []
        for _ in 0..<count {
            let worker = try await ServiceWorker<Kind>.launch(
                broker: broker, registry: registry.endpoint, instance: nextInstance(Kind.service),
                environment: environment, extra: extra, sharing: workers(kind).first)
            workers[Kind.service, default: []].append(worker)
            started.append(worker)
        }
        if !services.contains(where: { $0.service == Kind.service }) {
            services += Kind.methodPrefixes.map { (prefix: $0, service: Kind.service) }
        }
        try await waitUntilRegistered(kind)
        return started
    }

    /// The instances of `Kind` started so far (running or not), in start order.
    func workers<Kind: WorkerKind>(_ kind: Kind.Type) -> [ServiceWorker<Kind>] {
        (workers[Kind.service] ?? []).map { $0 as! ServiceWorker<Kind> }
    }

    /// A new process for `worker` on its data folder, under a new instance id,
    /// after a kill or a stop; returns once it is ready and registered.
    func restart<Kind: WorkerKind>(
        _ worker: ServiceWorker<Kind>, environment: [String: String] = [:], extra: [String] = []
    ) async throws {
        try await worker.restart(instance: nextInstance(Kind.service), environment: environment, extra: extra)
        try await waitUntilRegistered(Kind.self)
    }

    /// SIGTERM to every running worker (last started first); their exit statuses.
    func stopWorkers() async -> [String: Int32?] {
        var statuses: [String: Int32?] = [:]
        for (service, list) in workers {
            for case let w as any StoppableWorker in list.reversed() where w.isRunning {
                statuses[w.instanceName ?? service] = await w.stop()
            }
        }
        return statuses
    }

    private func nextInstance(_ service: String) -> String {
        let n = (instancesStarted[service] ?? 0) + 1
        instancesStarted[service] = n
        return "\(service)-\(n)"
    }

    /// Waits until the registry lists every running instance of `Kind` (by endpoint).
    private func waitUntilRegistered<Kind: WorkerKind>(_ kind: Kind.Type) async throws {
        let expected = Set(workers(kind).filter { $0.process.isRunning }.map(\.rpc))
        try await eventually("\(Kind.service) registered") {
            Set(try await self.instances(Kind.service).flatMap(\.endpoints)).isSuperset(of: expected)
        }
    }

    // MARK: Registry

    /// The instances the registry lists for `service` now (asked over a fresh REQ).
    func instances(_ service: String) async throws -> [InstanceInfo] {
        let client = try RawRegistryClient(context: testContext, endpoint: registry.endpoint)
        defer { client.close() }
        return try await client.lookup(service)
    }

    /// kill -9 the registry, and wait until it is gone.
    func crashRegistry() async { await registry.crash() }

    /// Starts a registry again where the old one listened (kill -9s the old one first
    /// if it still runs); the workers register again when they hear "unknown instance".
    func restartRegistry() async throws {
        if registry.process.isRunning { await registry.crash() }
        registry = try await RegistryUnderTest(
            endpoint: registry.endpoint, broker: membershipEvents ? broker.publish : nil)
    }

    // MARK: Clients

    /// The rpc client of `service`, through the registry (made on first use, closed by `close()`).
    func client(_ service: String) throws -> RpcClient {
        if let c = clients[service] { return c }
        let c = try RpcClient(service: service, registry: registryClient)
        clients[service] = c
        return c
    }

    /// Calls `method` on the service that answers it (by the method's prefix, of a
    /// kind started on this stack): `try await stack.call(ProfilesAPI.get, ...)`.
    func call<Request, Response>(
        _ method: RpcMethod<Request, Response>, _ request: Request, deadline: Duration? = nil,
        headers: RpcHeaders = .init()
    ) async throws -> Response {
        guard let service = services.first(where: { method.name.hasPrefix($0.prefix) })?.service else {
            throw WaitError.unexpected("no service of this stack answers \(method.name)")
        }
        return try await client(service).call(method, request, deadline: deadline, headers: headers)
    }

    /// A live collector of `prefixes` on the broker's fan-out (closed by `close()`).
    /// Live only: while its SUB reconnects after a broker restart, events pass it
    /// by (protocol.md §4.4); collect again after a restart, before what you await.
    func collect(_ prefixes: [String]) async throws -> LiveCollector {
        let c = try await LiveCollector(events: broker.events, prefixes: prefixes)
        collectors.append(c)
        return c
    }

    /// A live collector of the dead-letter topic of consumer group `group`.
    func deadLetters(_ group: String) async throws -> LiveCollector {
        try await collect(["$metro.dead.\(group)"])
    }

    /// Publishes `payload` (text) on `topic` with acknowledged publish.
    func publish(_ topic: String, _ payload: String, headers: String = "", eventID: String) async throws {
        _ = try await publisher.publish(
            topic: topic, payload: bytes(payload), headers: bytes(headers), eventID: bytes(eventID))
    }

    /// The broker's statistics of consumer group `name`, nil before it exists.
    func group(_ name: String) async throws -> GroupStats? { try await broker.stats().groups[name] }
}

/// What `stopWorkers()` needs of a worker of any kind.
protocol StoppableWorker: AnyObject {
    var isRunning: Bool { get }
    var instanceName: String? { get }
    func stop() async -> Int32?
}

extension ServiceWorker: StoppableWorker {
    var isRunning: Bool { process.isRunning }
    /// The instance id the process was started with.
    var instanceName: String? { ready["instance"] }

    /// SIGTERM, and the exit status (nil if it did not exit within 20 s).
    func stop() async -> Int32? {
        process.kill(SIGTERM)
        return await exit(timeout: .seconds(20))
    }

    /// kill -9, and wait until it is gone.
    func kill9() async {
        process.kill(SIGKILL)
        _ = await exit()
    }
}
