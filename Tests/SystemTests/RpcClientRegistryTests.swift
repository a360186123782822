import Foundation
import MetroKit
import MetroProtocol
import MetroTestKit
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `RpcClient(service:registry:)` with a real `metro registry` (membership events
/// through a stand-in broker): resolution, load sharing, an instance killed with
/// SIGKILL mid-load, an instance that leaves the registry mid-call.
@Suite(.serialized) struct RpcClientRegistryTests {
    @Test func aCallResolvesItsServiceThroughTheRegistry() async throws {
        let world = try await RpcRegistryWorld.start()
        let s = try await TestRpcServer()
        let client = try RpcClient(service: "echo", registry: world.reader)
        let (none, _) = await timed { _ = try await client.call(method: "test.echo", body: []) }
        #expect(none?.code == .noInstance)
        try await world.register("e-1", s.endpoint)
        try await eventually("the client to find e-1") {
            (try? await client.call(method: "test.echo", body: Array("hi".utf8))) == Array("hi".utf8)
        }
        await client.close()
        await s.server.close()
        await world.stop()
    }

    /// The registry killed with -9 and started again knows no instance until each
    /// registers again (at its next heartbeat). While it warms up (LOOKUP says
    /// `warming`), the client keeps calling the instance it knew; once warm, the
    /// registry's empty table is the truth again. Before, every call failed
    /// `no-instance` in that window (the chaos soak, seed 23: 184 calls).
    @Test func aRestartedRegistryWarmingUpDoesNotEmptyTheCallersInstances() async throws {
        let world = try await RpcRegistryWorld.start()
        let s = try await TestRpcServer()
        try await world.register("e-1", s.endpoint)
        // Lookups go to the registry every 100 ms, not to a cache that would hide the restart.
        let reader = try RegistryClient(
            configuration: .init(
                endpoints: [world.registry.endpoint], eventsEndpoint: world.broker.eventsEndpoint,
                cacheMaxAge: .milliseconds(100)))
        let client = try RpcClient(service: "echo", registry: reader)
        try await eventually("the client to find e-1") {
            (try? await client.call(method: "test.echo", body: Array("hi".utf8))) == Array("hi".utf8)
        }
        await world.registry.crash()
        var restarted = try await RegistryUnderTest(
            endpoint: world.registry.endpoint, broker: world.broker.publishEndpoint)
        try await eventually("the new registry answers, without e-1") { try await reader.lookup("echo").isEmpty }
        for i in 0..<5 {
            let (e, _) = await timed { _ = try await client.call(method: "test.echo", body: Array("\(i)".utf8)) }
            #expect(e == nil, "call \(i) while the registry warms up: \(String(describing: e))")
            try await Task.sleep(for: .milliseconds(150))
        }
        await restarted.crash()
        restarted = try await RegistryUnderTest(
            endpoint: world.registry.endpoint, broker: world.broker.publishEndpoint, extra: ["--warm-up-ms", "0"])
        try await eventually("no-instance once the registry is warm and e-1 never registered again") {
            let (e, _) = await timed { _ = try await client.call(method: "test.echo", body: []) }
            return e?.code == .noInstance
        }
        await restarted.crash()
        await client.close()
        await reader.close()
        await s.server.close()
        await world.stop()
    }

    @Test func twoInstancesShareTheLoad() async throws {
        let world = try await RpcRegistryWorld.start()
        let a = try await TestRpcServer(), b = try await TestRpcServer()
        try await world.register("a", a.endpoint)
        try await world.register("b", b.endpoint)
        let client = try RpcClient(service: "echo", registry: world.reader)
        try await eventually("both instances registered") { try await world.reader.lookup("echo").count == 2 }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    for _ in 0..<50 { _ = try await client.call(method: "test.sleep", body: Array("1".utf8)) }
                }
            }
            try await group.waitForAll()
        }
        #expect(a.calls + b.calls == 200)
        #expect(a.calls >= 60 && b.calls >= 60, "a \(a.calls), b \(b.calls)")
        await client.close()
        await a.server.close()
        await b.server.close()
        await world.stop()
    }

    /// Two instances under load, idempotent calls held ~300 ms and the others 2 s; one
    /// (a pyzmq process) is killed with SIGKILL just after a non-idempotent call
    /// reached it. Calls out on it fail over at once: idempotent ones are sent again
    /// to the survivor and succeed; others fail with `.disconnected`. No call waits
    /// for its 20 s deadline.
    @Test func killingAnInstanceMidLoadFailsOverIdempotentCallsAndNeverHangs() async throws {
        guard await DocumentedExample.pyzmqAvailable else { return }
        let world = try await RpcRegistryWorld.start()
        let survivor = try await TestRpcServer()
        let victim = try await PyRpcServer(holdMilliseconds: 300, holdFromBody: true)
        try await world.register("survivor", survivor.endpoint)
        try await world.register("victim", victim.endpoint)
        try await eventually("both instances registered") { try await world.reader.lookup("echo").count == 2 }
        let client = try RpcClient(service: "echo", registry: world.reader)
        let log = CallLog()
        let stop = StopFlag()
        let load = Task {
            await withTaskGroup(of: Void.self) { group in
                for i in 0..<8 {
                    let idempotent = i % 2 == 0
                    group.addTask {
                        while !stop.isSet {
                            let (e, took) = await timed {
                                _ = try await client.call(
                                    method: "test.sleep", body: Array((idempotent ? "300" : "2000").utf8),
                                    idempotent: idempotent, deadline: .seconds(20))
                            }
                            log.record(.init(idempotent: idempotent, error: e, seconds: took.seconds))
                        }
                    }
                }
            }
        }
        try await eventually("calls to complete on both instances") { log.successes >= 16 && survivor.calls >= 8 }
        // Kill it while a non-idempotent call is surely out on it: one that has just
        // arrived is held 2 s. (Killing at a random moment, as before, found none out
        // on it in one CI run: then nothing showed that such calls fail rather than
        // run twice.)
        let before = victim.received("2000")
        try await eventually("a non-idempotent call to reach the victim") { victim.received("2000") > before }
        await victim.crash()
        let atKill = log.all.count
        try await eventually("the load to go on after the kill") { log.all.count >= atKill + 24 }
        stop.set()
        await load.value

        let entries = log.all
        let failed = entries.filter { $0.error != nil }
        #expect(entries.filter(\.idempotent).allSatisfy { $0.error == nil }, "\(failed.map { "\($0.error!)" })")
        #expect(failed.allSatisfy { $0.error?.code == .disconnected }, "\(failed.map { "\($0.error!)" })")
        #expect(!failed.isEmpty, "some non-idempotent calls were out on the killed instance")
        let slowest = entries.map(\.seconds).max() ?? 0
        // Calls hold 0.3 or 2 s against a 20 s deadline; the bound leaves room for a loaded pool.
        #expect(slowest < 12, "no call waited for its deadline; slowest \(slowest) s")
        await client.close()
        await survivor.server.close()
        await world.stop()
    }

    /// A call out on an instance that deregisters fails at once (not at its deadline).
    @Test func anInstanceThatLeavesTheRegistryFailsItsCallsAtOnce() async throws {
        let world = try await RpcRegistryWorld.start()
        let s = try await TestRpcServer()
        try await world.register("leaver", s.endpoint)
        let client = try RpcClient(service: "echo", registry: world.reader)
        let call = Task {
            await timed {
                _ = try await client.call(method: "test.sleep", body: Array("90000".utf8), deadline: .seconds(120))
            }
        }
        try await eventually("the handler to start") { s.calls == 1 }
        try await world.writer.deregister(RpcRegistryWorld.registration("leaver", s.endpoint).key)
        let (e, took) = await call.value
        #expect(e?.code == .disconnected, "\(String(describing: e))")
        // The handler holds 90 s and the deadline is 120 s: 30 s tells "at once" from either.
        #expect(took < .seconds(30), "failed when the instance left, not at the deadline: \(took)")
        await client.close()
        await s.server.close()
        await world.stop()
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
