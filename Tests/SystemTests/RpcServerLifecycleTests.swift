import Foundation
import Logging
import MetroKit
import MetroProtocol
import MetroTestKit
import ServiceLifecycle
import Testing

/// `RpcServer`'s life: as a swift-service-lifecycle `Service` (graceful shutdown
/// drains), the drain bound, and `close()` before a start or twice.
@Suite struct RpcServerLifecycleTests {
    /// Graceful shutdown of the group: new calls get 109, the running ones are
    /// answered, then `run()` returns and the server is closed for good.
    @Test(.timeLimit(.minutes(1)))
    func gracefulShutdownDrainsThenCloses() async throws {
        let gates = Gates()
        let server = try RpcServer(.init(), handler: testHandler(StartedHandlers(), gates: gates))
        let group = ServiceGroup(configuration: .init(services: [server], logger: Logger(label: "test")))
        let running = Task { try await group.run() }
        defer { gates.openAll() }
        try await eventually("the server bound") { server.endpoint != nil }
        let dealer = try RawDealer(server.endpoint!)
        try await dealer.send(all: (0..<2).map { gateRequest("g-\($0)").encode() })
        try await eventually("two handlers run") { gates.waiting == 2 }
        await group.triggerGracefulShutdown()
        try await eventually("draining") { server.stats.draining }
        let refused = try await dealer.call(rpcRequest("g-late", "test.echo"))
        #expect(
            refused == .error(WireError(.unavailable, "the server is shutting down"), requestID: Array("g-late".utf8)))
        gates.openAll()
        var answered: Set<[UInt8]> = []
        for _ in 0..<2 {
            guard case .reply(let id, _, _) = try RpcReply.decode(try await dealer.receive()).get() else {
                Issue.record("an in-flight call was not answered")
                break
            }
            answered.insert(id)
        }
        #expect(answered == [Array("g-0".utf8), Array("g-1".utf8)])
        try await running.value
        await #expect(throws: MetroClientError.self) { try await server.start() }
    }

    /// A handler that outlives `drainTimeout` does not hold `close()` up: it returns
    /// after the bound, and that handler's answer, which comes later, is dropped.
    @Test(.timeLimit(.minutes(1)))
    func closeWaitsForHandlersOnlyUpToTheDrainTimeout() async throws {
        let gates = Gates()
        let server = try RpcServer(
            .init(drainTimeout: .milliseconds(200)), handler: testHandler(StartedHandlers(), gates: gates))
        defer { gates.openAll() }
        let dealer = try RawDealer(try await server.start())
        try await dealer.send(gateRequest("held").encode())
        try await eventually("the handler runs") { gates.waiting == 1 }
        let closing = ContinuousClock.now
        await server.close()
        let took = ContinuousClock.now - closing
        // The gate stays shut until the test opens it: any bound well under the time
        // limit tells the drain timeout from waiting for the handler.
        #expect(took >= .milliseconds(200) && took < .seconds(30), "close took \(took)")
        gates.openAll()
        await #expect(throws: WaitError.self) { try await dealer.receive(timeout: .milliseconds(300)) }
    }

    @Test func closeBeforeStartAndTwiceIsFine() async throws {
        let server = try RpcServer(.init(), handler: testHandler(StartedHandlers()))
        await server.close()
        await server.close()
        #expect(server.endpoint == nil)
        await #expect(throws: MetroClientError.self) { try await server.start() }
    }

    /// A bind that fails says why.
    @Test func aFailedBindIsReportedByStart() async throws {
        let first = try RpcServer(.init(), handler: testHandler(StartedHandlers()))
        let taken = try await first.start()
        let second = try RpcServer(.init(bind: taken), handler: testHandler(StartedHandlers()))
        let error = await #expect(throws: MetroClientError.self) { try await second.start() }
        #expect(error?.message.contains("could not bind \(taken)") == true, "\(String(describing: error))")
        await second.close()
        await first.close()
    }
}
