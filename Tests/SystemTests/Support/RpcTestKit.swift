import Dispatch
import Foundation
import MetroKit
import MetroProtocol
import MetroTestKit
import Synchronization
import ZeroMQ

/// A raw DEALER caller for the rpc tests, as a foreign client would write it
/// (protocol.md §6): whole frames in, whole frames out. Each socket operation runs
/// on a thread of its own (`DedicatedThread.run`), never on the cooperative pool,
/// which the server's handlers need. One operation at a time.
final class RawDealer: @unchecked Sendable {
    private let socket: Socket

    init(_ endpoint: String) throws {
        socket = try testContext.socket(.dealer)
        try socket.set(.linger(milliseconds: 0))
        try socket.connect(endpoint)
    }

    deinit { socket.close() }

    func send(_ frames: [[UInt8]]) async throws {
        try await offThePool { try self.socket.send(multipart: frames) }
    }

    /// Sends several messages back to back, in one operation (all in flight together).
    func send(all messages: [[[UInt8]]]) async throws {
        try await offThePool { for frames in messages { try self.socket.send(multipart: frames) } }
    }

    /// The next answer; `WaitError.timedOut` after `timeout`. The defaults here and
    /// in `rpcRequest` are 60 s: in full runs on 2 cores the pool is held for up to
    /// ~15 s at the start (docs/performance.md, "The test suite starves itself"), and a
    /// first call with 10 s was answered 401 (`typedMethodsAndTheirErrors`). Tests of
    /// a timeout pass their own.
    func receive(timeout: Duration = .seconds(60)) async throws -> [[UInt8]] {
        try await offThePool {
            try self.socket.set(.receiveTimeout(milliseconds: Int(timeout.inMilliseconds)))
            guard let frames = try self.socket.receiveMultipart() else { throw WaitError.timedOut("an rpc answer") }
            return frames
        }
    }

    /// Sends one message and returns the next answer.
    func call(_ frames: [[UInt8]], timeout: Duration = .seconds(60)) async throws -> [[UInt8]] {
        try await send(frames)
        return try await receive(timeout: timeout)
    }

    /// Sends one request and decodes the answer.
    func call(_ request: RpcRequest, timeout: Duration = .seconds(60)) async throws -> RpcReply {
        try RpcReply.decode(try await call(request.encode(), timeout: timeout)).get()
    }
}

/// Runs `body` on a dedicated thread and returns its result, without blocking a pool thread.
func offThePool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    let result = Mutex<Result<T, any Error>?>(nil)
    await DedicatedThread.run(name: "test-dealer") { result.withLock { $0 = Result { try body() } } }
    return try result.withLock { $0! }.get()
}

/// Records which calls' handlers started, by request id.
final class StartedHandlers: Sendable {
    private let ids = Mutex<[String]>([])
    func record(_ id: [UInt8]) { ids.withLock { $0.append(String(decoding: id, as: UTF8.self)) } }
    var all: [String] { ids.withLock { $0 } }
    func contains(_ id: String) -> Bool { ids.withLock { $0.contains(id) } }
}

/// Handlers of `test.gate` wait here, by request id, until the test opens their
/// gate: the test, not the clock, decides when each call finishes.
final class Gates: Sendable {
    private struct State {
        var waiting: [String: CheckedContinuation<Void, Never>] = [:]
        var opened: Set<String> = []
    }
    private let state = Mutex(State())

    /// Calls waiting at their gate now.
    var waiting: Int { state.withLock { $0.waiting.count } }

    func wait(_ id: String) async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let open = state.withLock { s in
                if s.opened.contains(id) { return true }
                s.waiting[id] = c
                return false
            }
            if open { c.resume() }
        }
    }

    /// Lets the call `id` finish (now, or as soon as it arrives).
    func open(_ id: String) {
        let c = state.withLock { s in
            s.opened.insert(id)
            return s.waiting.removeValue(forKey: id)
        }
        c?.resume()
    }

    func openAll() {
        let all = state.withLock { s in
            s.opened.formUnion(s.waiting.keys)
            defer { s.waiting = [:] }
            return Array(s.waiting.values)
        }
        for c in all { c.resume() }
    }
}

/// The methods of the rpc tests, raw: `test.echo` answers its body; `test.gate`
/// waits until `gates` opens its request id, then answers its body. Every start
/// is recorded.
func testHandler(_ started: StartedHandlers, gates: Gates = Gates()) -> RpcHandler {
    { inbound in
        started.record(inbound.requestID)
        switch inbound.method {
        case "test.echo":
            return .reply(inbound.body)
        case "test.gate":
            await gates.wait(String(decoding: inbound.requestID, as: UTF8.self))
            return .reply(inbound.body)
        default:
            return .error(WireError(.unknownMethod, "no method \(inbound.method)"))
        }
    }
}

/// A `test.gate` call, held until its gate opens, with a 60 s deadline: these
/// tests are not about time, and a deadline the server checks when the handler's
/// task starts must outlast the first seconds of a full parallel run, when the
/// cooperative pool can be held for ~12 s (a 10 s deadline made
/// `overloadIsAnsweredAtOnce` see its four calls answered 401, never started, in
/// a clean-clone CI run; docs/performance.md, "The test suite starves itself").
func gateRequest(_ id: String, _ body: String = "") -> RpcRequest {
    rpcRequest(id, "test.gate", body, deadlineMs: 60_000)
}

/// A request with text id and body, a 60 s deadline unless given (see `RawDealer.receive`).
func rpcRequest(_ id: String, _ method: String, _ body: String = "", deadlineMs: UInt32 = 60_000) -> RpcRequest {
    RpcRequest(requestID: Array(id.utf8), method: method, deadlineMilliseconds: deadlineMs, body: Array(body.utf8))
}

/// A task executor that holds every job until `release()`: makes "the handler's task
/// could not start before the deadline" happen on purpose (a busy pool does it by chance).
final class HeldExecutor: TaskExecutor {
    private let state = Mutex<(released: Bool, jobs: [UnownedJob])>((false, []))

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let runNow = state.withLock { s in
            if !s.released { s.jobs.append(job) }
            return s.released
        }
        if runNow { run(job) }
    }

    var heldJobs: Int { state.withLock { $0.jobs.count } }

    func release() {
        let jobs = state.withLock { s in
            s.released = true
            defer { s.jobs = [] }
            return s.jobs
        }
        for job in jobs { run(job) }
    }

    private func run(_ job: UnownedJob) {
        let executor = asUnownedTaskExecutor()
        DispatchQueue.global().async { job.runSynchronously(on: executor) }
    }
}
