import Foundation
import MetroKit
import MetroProtocol
import MetroTestKit
import Synchronization

/// The raw methods of the rpc client tests. `test.echo` answers its body;
/// `test.sleep` sleeps its body (decimal milliseconds), then answers it;
/// `test.fail` answers 107 internal-error; `test.missing` answers 404 not-found;
/// `test.hold` answers its body once `gate` opens. Every start is recorded in `started`.
func clientTestHandler(_ started: StartedHandlers, gate: HandlerGate = HandlerGate()) -> RpcHandler {
    { inbound in
        started.record(inbound.requestID)
        switch inbound.method {
        case "test.echo":
            return .reply(inbound.body)
        case "test.hold":
            await gate.wait()
            return .reply(inbound.body)
        case "test.sleep":
            let ms = Int(String(decoding: inbound.body, as: UTF8.self)) ?? 0
            try? await Task.sleep(for: .milliseconds(ms))
            return .reply(inbound.body)
        case "test.fail":
            return .error(WireError(.internalError, "test.fail always fails"))
        case "test.missing":
            return .error(WireError(.notFound, "no such thing"))
        default:
            return .error(WireError(.unknownMethod, "no method \(inbound.method)"))
        }
    }
}

/// Holds handlers until it opens, then lets every one (and any later) through.
final class HandlerGate: Sendable {
    private let state = Mutex<(open: Bool, waiting: [CheckedContinuation<Void, Never>])>((false, []))

    func wait() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let go = state.withLock { s in
                if !s.open { s.waiting.append(c) }
                return s.open
            }
            if go { c.resume() }
        }
    }

    func open() {
        let waiting = state.withLock { s in
            s.open = true
            defer { s.waiting = [] }
            return s.waiting
        }
        for c in waiting { c.resume() }
    }
}

/// An in-process `RpcServer` of `clientTestHandler`, bound on an ephemeral port.
struct TestRpcServer {
    let server: RpcServer
    let endpoint: String
    let started = StartedHandlers()
    let gate = HandlerGate()

    init(_ options: RpcServer.Options = .init(drainTimeout: .milliseconds(100))) async throws {
        let started = started
        server = try RpcServer(options, handler: clientTestHandler(started, gate: gate))
        endpoint = try await server.start()
    }

    var calls: Int { started.all.count }
}

/// A real `metro registry` with a stand-in broker for its membership events, a
/// client that writes registrations, and a reader whose events flow (slow joiner
/// waited out), for `RpcClient(service:registry:)`.
struct RpcRegistryWorld {
    let broker: FakeBroker
    let registry: RegistryUnderTest
    let writer: RegistryClient
    let reader: RegistryClient

    static func start() async throws -> RpcRegistryWorld {
        let broker = try FakeBroker()
        let registry = try await RegistryUnderTest(broker: broker.publishEndpoint)
        let writer = try RegistryClient(endpoints: [registry.endpoint])
        let reader = try RegistryClient(
            configuration: .init(
                endpoints: [registry.endpoint], eventsEndpoint: broker.eventsEndpoint, cacheMaxAge: .seconds(60)))
        _ = try await RegistrySystemTests.Membership.waitForEvents(reader, writer: writer)
        return RpcRegistryWorld(broker: broker, registry: registry, writer: writer, reader: reader)
    }

    static func registration(_ instance: String, _ endpoint: String) -> Registration {
        Registration(service: "echo", instance: instance, epoch: 1, endpoints: [endpoint], ttlMilliseconds: 30_000)
    }

    func register(_ instance: String, _ endpoint: String) async throws {
        try await writer.register(Self.registration(instance, endpoint))
    }

    func stop() async {
        await reader.close()
        await writer.close()
        await broker.stop()
    }
}

/// What a load of calls ended with, by outcome.
final class CallLog: Sendable {
    struct Entry: Sendable {
        var idempotent: Bool
        var error: MetroClientError?
        var seconds: Double
    }
    private let entries = Mutex<[Entry]>([])

    func record(_ e: Entry) { entries.withLock { $0.append(e) } }
    var all: [Entry] { entries.withLock { $0 } }
    var successes: Int { all.filter { $0.error == nil }.count }
}

/// Runs `body` and returns the error it threw (nil if none) and how long it took.
/// An error other than `MetroClientError` comes back as `.protocolViolation` with
/// its description, so a test's expectation on the code fails and shows it.
func timed(_ body: () async throws -> Void) async -> (MetroClientError?, Duration) {
    let start = ContinuousClock.now
    do {
        try await body()
        return (nil, .now - start)
    } catch let e as MetroClientError {
        return (e, .now - start)
    } catch {
        return (MetroClientError(.protocolViolation, operation: "test", message: "\(error)"), .now - start)
    }
}

/// A flag tasks can share (an `Atomic` is not copyable, so it cannot be captured).
final class StopFlag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .relaxed) }
    var isSet: Bool { value.load(ordering: .relaxed) }
}
