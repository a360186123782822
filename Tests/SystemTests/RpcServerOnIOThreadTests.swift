import Foundation
import MetroKit
import MetroProtocol
import MetroTestKit
import Synchronization
import Testing

/// `RpcServer.Options.handlersOnIOThread` against raw DEALER callers on loopback:
/// handlers run on the server's own I/O thread (no hop to the cooperative pool and
/// back), a handler that suspends still answers and does not hold up other calls, and
/// `close()` ends a server whose handler is still suspended.
@Suite struct RpcServerOnIOThreadTests {
    /// The name of the thread running the caller (Linux keeps 15 bytes).
    static func threadName() -> String {
        let comm = (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? ""
        return comm.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// `test.where` answers the name of the thread its handler ran on; the rest is `testHandler`.
    /// Every handler that returned is recorded in `ended`.
    static func handler(_ started: StartedHandlers, gates: Gates, ended: StartedHandlers = StartedHandlers())
        -> RpcHandler
    {
        let others = testHandler(started, gates: gates)
        return { inbound in
            defer { ended.record(inbound.requestID) }
            guard inbound.method == "test.where" else { return await others(inbound) }
            return .reply(Array(threadName().utf8))
        }
    }

    @Test func handlersRunOnTheServersIOThread() async throws {
        var options = RpcServer.Options()
        options.handlersOnIOThread = true
        let server = try RpcServer(options, handler: Self.handler(StartedHandlers(), gates: Gates()))
        let dealer = try RawDealer(try await server.start())
        let answer = try await dealer.call(rpcRequest("w-1", "test.where"))
        await server.close()
        #expect(answer == .reply(requestID: Array("w-1".utf8), body: Array("metro-rpc-serve".utf8)))
        #expect(server.stats.replies["ok"] == 1)
    }

    @Test func aSuspendedHandlerDoesNotHoldUpTheOthersAndStillAnswers() async throws {
        var options = RpcServer.Options()
        options.handlersOnIOThread = true
        let gates = Gates()
        let server = try RpcServer(options, handler: Self.handler(StartedHandlers(), gates: gates))
        let dealer = try RawDealer(try await server.start())
        do {
            try await dealer.send(gateRequest("g-1", "late").encode())
            try await eventually("the gated handler waiting", timeout: .seconds(10)) { gates.waiting == 1 }
            // Echoes go past the suspended handler, in order.
            for i in 0..<50 {
                let id = "e-\(i)"
                #expect(
                    try await dealer.call(rpcRequest(id, "test.echo", "x"))
                        == .reply(requestID: Array(id.utf8), body: Array("x".utf8)))
            }
            // Opened from this task (not the I/O thread): the handler resumes on the I/O thread and answers.
            gates.open("g-1")
            let frames = try await dealer.receive()
            #expect(try RpcReply.decode(frames).get() == .reply(requestID: Array("g-1".utf8), body: Array("late".utf8)))
        } catch {
            gates.openAll()
            await server.close()
            throw error
        }
        await server.close()
        #expect(server.stats.replies["ok"] == 51 && server.stats.inFlight == 0)
    }

    @Test func closeEndsAServerWhoseHandlerIsSuspended() async throws {
        var options = RpcServer.Options()
        options.handlersOnIOThread = true
        options.drainTimeout = .milliseconds(200)
        let gates = Gates(), ended = StartedHandlers()
        let server = try RpcServer(options, handler: Self.handler(StartedHandlers(), gates: gates, ended: ended))
        let dealer = try RawDealer(try await server.start())
        try await dealer.send(gateRequest("g-2").encode())
        try await eventually("the gated handler waiting", timeout: .seconds(10)) { gates.waiting == 1 }
        await server.close()  // the drain times out; the thread ends
        #expect(server.stats.inFlight == 1)
        // The abandoned handler's task resumes elsewhere (its thread is gone) and ends; its answer is dropped.
        gates.openAll()
        try await eventually("the abandoned handler ended", timeout: .seconds(10)) { ended.contains("g-2") }
        await #expect(throws: (any Error).self) { try await dealer.receive(timeout: .milliseconds(300)) }
    }
}
