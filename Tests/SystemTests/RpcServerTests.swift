import Foundation
import MetroKit
import MetroProtocol
import MetroTestKit
import Testing

/// `RpcServer` (protocol.md §6) against raw DEALER callers on loopback: round trips,
/// many calls in flight answered out of order, deadlines, overload, drain.
@Suite struct RpcServerTests {
    struct Add: Codable, Sendable { var a: Int, b: Int }
    struct Sum: Codable, Sendable, Equatable { var sum: Int }
    static let add = RpcMethod<Add, Sum>("test.add", idempotent: true)
    static let missing = RpcMethod<Add, Sum>("test.missing")
    static let crash = RpcMethod<Add, Sum>("test.crash")

    /// A server of the raw test methods (`testHandler`), closed after `body`.
    func withServer(
        _ options: RpcServer.Options = .init(), started: StartedHandlers = StartedHandlers(), gates: Gates = Gates(),
        _ body: (RpcServer, RawDealer) async throws -> Void
    ) async throws {
        let server = try RpcServer(options, handler: testHandler(started, gates: gates))
        let endpoint = try await server.start()
        #expect(endpoint.hasPrefix("tcp://127.0.0.1:") && !endpoint.hasSuffix("*"))
        do {
            try await body(server, try RawDealer(endpoint))
        } catch {
            gates.openAll()
            await server.close()
            throw error
        }
        await server.close()
    }

    @Test func rawRoundTrip() async throws {
        try await withServer { server, dealer in
            let answer = try await dealer.call(rpcRequest("r-1", "test.echo", "hello").encode())
            #expect(answer == RpcReply.reply(requestID: Array("r-1".utf8), body: Array("hello".utf8)).encode())
            #expect(server.stats.replies["ok"] == 1)
        }
    }

    @Test func typedMethodsAndTheirErrors() async throws {
        var router = RpcRouter()
        router.register(Self.add) { request, context in
            #expect(context.correlationID == "corr-1" && context.method == "test.add")
            return Sum(sum: request.a + request.b)
        }
        router.register(Self.missing) { _, _ in throw RpcError.notFound("no such thing") }
        router.register(Self.crash) { _, _ in throw CocoaError(.fileNoSuchFile) }
        let server = try RpcServer(.init(), router: router)
        let dealer = try RawDealer(try await server.start())
        do {
            try await typedCalls(dealer)
        } catch {
            await server.close()
            throw error
        }
        await server.close()
    }

    func typedCalls(_ dealer: RawDealer) async throws {

        var call = rpcRequest("t-1", "test.add", #"{"a":2,"b":40}"#)
        call.headers = RpcHeaders(requestID: "corr-1")
        #expect(try await dealer.call(call) == .reply(requestID: Array("t-1".utf8), body: Array(#"{"sum":42}"#.utf8)))

        func code(_ method: String, _ body: String) async throws -> WireErrorCode? {
            guard case .error(let e, let id) = try await dealer.call(rpcRequest("t-2", method, body)) else {
                return nil
            }
            #expect(id == Array("t-2".utf8))
            return e.code
        }
        #expect(try await code("test.nothing", "{}") == .unknownMethod)
        #expect(try await code("test.add", #"{"a":1,"a":2,"b":3}"#) == .badRequest)  // duplicate key
        #expect(try await code("test.add", #"{"a":"1","b":3}"#) == .badRequest)  // wrong type
        #expect(try await code("test.add", #"{"a":1}"#) == .badRequest)  // missing field
        #expect(try await code("test.add", #"{"a":1,"b":2,}"#) == .badRequest)  // trailing comma
        #expect(try await code("test.add", #"{"a":1.0,"b":2}"#) == .badRequest)  // not a JSON integer
        #expect(try await code("test.add", #"{"a":1e3,"b":2}"#) == .badRequest)
        #expect(try await code("test.add", "") == .badRequest)
        #expect(try await code("test.missing", #"{"a":1,"b":2}"#) == .notFound)
        #expect(try await code("test.crash", #"{"a":1,"b":2}"#) == .internalError)
    }

    /// Twenty calls in flight on one connection at once, finished by the test in the
    /// reverse order: each answer comes back as its call finishes, with its own id.
    @Test func manyInFlightAnsweredOutOfOrder() async throws {
        let gates = Gates()
        try await withServer(gates: gates) { server, dealer in
            try await dealer.send(all: (0..<20).map { gateRequest("c-\($0)", "body-\($0)").encode() })
            try await eventually("twenty handlers wait at once") { gates.waiting == 20 }
            #expect(server.stats.inFlight == 20)
            for i in (0..<20).reversed() {
                gates.open("c-\(i)")
                let answer = try RpcReply.decode(try await dealer.receive()).get()
                #expect(answer == .reply(requestID: Array("c-\(i)".utf8), body: Array("body-\(i)".utf8)))
            }
            #expect(server.stats.replies["ok"] == 20)
        }
    }

    @Test func aZeroDeadlineIsAnswered401AndNeverStarted() async throws {
        let started = StartedHandlers()
        try await withServer(started: started) { server, dealer in
            let answer = try await dealer.call(rpcRequest("d-0", "test.echo", "x", deadlineMs: 0))
            #expect(
                answer == .error(WireError(.deadlineExceeded, "the deadline was 0 ms"), requestID: Array("d-0".utf8)))
            #expect(
                try await dealer.call(rpcRequest("d-1", "test.echo")) == .reply(requestID: Array("d-1".utf8), body: []))
            #expect(started.all == ["d-1"])
            #expect(server.stats.expiredBeforeStart == 1)
        }
    }

    /// A call whose task cannot start before its deadline (its executor holds it)
    /// is answered 401 when it does start, and its handler never runs.
    @Test func aDeadlineThatPassesBeforeTheStartIsNotRun() async throws {
        let started = StartedHandlers(), executor = HeldExecutor()
        try await withServer(.init(executor: executor), started: started) { server, dealer in
            try await dealer.send(rpcRequest("q-1", "test.echo", "late", deadlineMs: 100).encode())
            try await eventually("the call's task is held") { executor.heldJobs == 1 }
            // Received before the job was held: 150 ms later its 100 ms deadline has passed.
            try await Task.sleep(for: .milliseconds(150))
            executor.release()
            guard case .error(let e, let id) = try RpcReply.decode(try await dealer.receive()).get() else {
                Issue.record("the late call was answered with a REPLY")
                return
            }
            #expect(e.code == .deadlineExceeded && id == Array("q-1".utf8))
            #expect(e.message.contains("before the handler started"))
            #expect(!started.contains("q-1"))
            #expect(server.stats.expiredBeforeStart == 1 && server.stats.inFlight == 0)
            // The executor runs handlers normally once it lets jobs through.
            #expect(try await dealer.call(rpcRequest("q-2", "test.echo", "ok")).requestID == Array("q-2".utf8))
            #expect(started.all == ["q-2"])
        }
    }

    /// At the bound the server answers 402 at once, while the four running
    /// handlers are still held: nothing waits for a slot.
    @Test func overloadIsAnsweredAtOnce() async throws {
        let gates = Gates()
        try await withServer(.init(maxConcurrent: 4), gates: gates) { server, dealer in
            try await dealer.send(all: (0..<4).map { gateRequest("s-\($0)").encode() })
            try await eventually("four handlers run") { gates.waiting == 4 }
            let sentAt = ContinuousClock.now
            let answer = try await dealer.call(gateRequest("s-4"))
            let waited = ContinuousClock.now - sentAt
            guard case .error(let e, let id) = answer else {
                Issue.record("the fifth call was not refused")
                return
            }
            #expect(e.code == .overloaded && id == Array("s-4".utf8))
            #expect(e.message == "4 calls are running; retry elsewhere or later")
            // "At once" is proved by the gates: the 402 came while all four handlers were
            // still held, so it waited for no slot. The bound only catches an answer that
            // came from a timeout instead (the call's deadline is 60 s); a 0.5 s bound failed
            // at 0.68 s in a full parallel run of the debug suite on 2 cores, and a 5 s
            // one at 5.76 s in a clean-clone CI run.
            #expect(waited < .seconds(30), "402 took \(waited)")
            #expect(server.stats.overloaded == 1 && gates.waiting == 4)
            gates.openAll()
            var finished: Set<[UInt8]> = []
            for _ in 0..<4 { finished.insert(try RpcReply.decode(try await dealer.receive()).get().requestID ?? []) }
            #expect(finished == Set((0..<4).map { Array("s-\($0)".utf8) }))
            // A slot is free again.
            #expect(try await dealer.call(rpcRequest("s-5", "test.echo")).requestID == Array("s-5".utf8))
        }
    }

    /// `drain()`: new calls get 109 while the running ones are held; once they
    /// finish they are answered, and only then does `drain()` return.
    @Test func drainAnswers109AndFinishesInFlight() async throws {
        let gates = Gates()
        try await withServer(gates: gates) { server, dealer in
            try await dealer.send(all: (0..<3).map { gateRequest("f-\($0)").encode() })
            try await eventually("three handlers run") { gates.waiting == 3 }
            let drained = Task { await server.drain() }
            try await eventually("draining") { server.stats.draining }
            let refused = try await dealer.call(rpcRequest("n-1", "test.echo", "late"))
            #expect(
                refused == .error(WireError(.unavailable, "the server is shutting down"), requestID: Array("n-1".utf8)))
            gates.openAll()
            var finished: Set<[UInt8]> = []
            for _ in 0..<3 {
                guard case .reply(let id, _, _) = try RpcReply.decode(try await dealer.receive()).get() else {
                    Issue.record("an in-flight call was not answered with its REPLY")
                    return
                }
                finished.insert(id)
            }
            #expect(finished.count == 3)
            await drained.value
            #expect(server.stats.inFlight == 0 && server.stats.replies["109"] == 1)
        }
    }
}
