import Foundation
import MetroProtocol
import ZeroMQ

#if canImport(Glibc)
    import Glibc
#endif

/// A real `metro registry` on an ephemeral loopback port.
final class RegistryUnderTest: @unchecked Sendable {
    let process: MetroProcess
    let endpoint: String
    /// The whole ready line (`endpoint`, and `metrics` when asked for).
    let ready: [String: String]

    /// Starts `metro registry`; `endpoint` defaults to an ephemeral port (pass the old
    /// endpoint to restart a registry where its clients expect it).
    init(endpoint: String = "tcp://127.0.0.1:*", broker: String? = nil, extra: [String] = []) throws {
        var args = ["registry", "--endpoint", endpoint, "--log-level", "warning"]
        if let broker { args += ["--broker", broker] }
        process = try MetroProcess(args + extra)
        ready = try process.waitUntilReady()
        guard let ep = ready["endpoint"] else { throw WaitError.timedOut("ready line without endpoint") }
        self.endpoint = ep
    }

    /// kill -9, and wait until it is gone.
    func crash() {
        process.kill(SIGKILL)
        process.waitForExit()
    }
}

/// A foreign client: raw frames over a plain REQ socket, as pyzmq would send them.
/// Each request uses a receive timeout, so a test never hangs on a lost reply.
final class RawRegistryClient {
    let context: Context
    let endpoint: String
    private var socket: Socket

    init(context: Context, endpoint: String) throws {
        self.context = context
        self.endpoint = endpoint
        socket = try Self.open(context, endpoint)
    }

    private static func open(_ context: Context, _ endpoint: String) throws -> Socket {
        let s = try context.socket(.req)
        try s.set(.linger(milliseconds: 0))
        try s.set(.receiveTimeout(milliseconds: 5000))
        try s.connect(endpoint)
        return s
    }

    /// Sends `frames` and returns the reply frames (after the REQ envelope).
    func request(_ frames: [[UInt8]]) throws -> [[UInt8]] {
        try socket.send(multipart: frames)
        guard let reply = try socket.receiveMultipart() else {
            socket.close()
            socket = try Self.open(context, endpoint)
            throw WaitError.timedOut("no reply from the registry")
        }
        return reply
    }

    func request(_ r: RegistryRequest) throws -> RegistryReply {
        try RegistryReply.decode(request(r.encode())).get()
    }

    /// The error code of the reply to `frames`, or nil for OK.
    func errorCode(_ frames: [[UInt8]]) throws -> WireErrorCode? {
        guard case .error(let e) = try RegistryReply.decode(request(frames)).get() else { return nil }
        return e.code
    }

    func lookup(_ service: String) throws -> [InstanceInfo] {
        try request(.lookup(service: service)).result(LookupResult.self).get().instances
    }

    func list() throws -> [InstanceStatus] {
        try request(.list).result(ListResult.self).get().instances
    }

    func stats() throws -> RegistryStats {
        try request(.stats).result(RegistryStats.self).get()
    }

    func close() { socket.close() }
}

/// A stand-in for the broker: an XSUB socket where publishers connect and an XPUB socket
/// where subscribers connect, forwarding events down and subscriptions up on its own
/// thread (like `zmq_proxy`). `stop()` ends the thread and closes both sockets.
final class FakeBroker: @unchecked Sendable {
    let publishEndpoint: String
    let eventsEndpoint: String
    private let context: Context
    private let finished = DispatchSemaphore(value: 0)

    init() throws {
        context = try Context(ioThreads: 1, defaultLingerMilliseconds: 0)
        let xsub = try context.socket(.xsub)
        let xpub = try context.socket(.xpub)
        publishEndpoint = try xsub.bindResolved("tcp://127.0.0.1:*")
        eventsEndpoint = try xpub.bindResolved("tcp://127.0.0.1:*")
        let sockets = Transfer((xsub, xpub))
        let done = finished
        Thread {
            let (xsub, xpub) = sockets.value
            let poller = Poller()
            poller.add(xsub)
            poller.add(xpub)
            while (try? poller.poll(timeoutMilliseconds: -1)) != nil {
                while let m = try? xsub.receiveMultipart(dontWait: true) { _ = try? xpub.trySend(multipart: m) }
                while let m = try? xpub.receiveMultipart(dontWait: true) { _ = try? xsub.trySend(multipart: m) }
            }
            xsub.close()
            xpub.close()
            done.signal()
        }.start()
    }

    func stop() {
        context.shutdown()
        finished.wait()
    }
}

struct Transfer<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

/// Async `waitFor`: polls `condition` until it holds or `timeout` passes, without
/// blocking a cooperative thread.
func eventually(
    _ what: String, timeout: Duration = .seconds(30), interval: Duration = .milliseconds(20),
    _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: interval)
    }
    throw WaitError.timedOut(what)
}
