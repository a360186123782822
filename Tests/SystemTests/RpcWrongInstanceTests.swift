import Foundation
import MetroKit
import MetroProtocol
import MetroTestKit
import Testing

/// The `target` header and 408 wrong-instance (protocol.md §6.3): a caller that still
/// knows a dead instance's endpoint, now bound by another process, gets refused
/// there without any handler running, and goes on to another instance whatever
/// the method. (How it was found: a full test run where a killed worker's port went
/// to another test's worker, docs/performance.md.)
@Suite struct RpcWrongInstanceTests {
    static func server(incarnation: String?) async throws -> TestRpcServer {
        var options = RpcServer.Options(drainTimeout: .milliseconds(100))
        options.incarnation = incarnation
        return try await TestRpcServer(options)
    }

    @Test func aServerRunsOnlyCallsMeantForItsIncarnationOrForNone() async throws {
        let own = RpcHeaders.target(service: "echo", instance: "e-1", epoch: 7)
        let s = try await Self.server(incarnation: own)
        let dealer = try RawDealer(s.endpoint)
        func ask(_ id: String, _ target: String?) async throws -> RpcReply {
            var request = rpcRequest(id, "test.echo", id)
            request.headers.target = target
            try await dealer.send(request.encode())
            return try RpcReply.decode(try await dealer.receive(timeout: .seconds(60))).get()
        }
        // An earlier incarnation of the same instance, and another service's.
        for (id, target) in [("old", "echo/e-1@6"), ("other", "profiles/profiles-1@7")] {
            guard case .error(let e, let requestID) = try await ask(id, target) else {
                Issue.record("\(target) was served")
                continue
            }
            #expect(e.code == .wrongInstance && requestID == Array(id.utf8), "\(e)")
            #expect(e.message.contains(own) && e.message.contains(target), "\(e.message)")
        }
        #expect(s.calls == 0, "no handler ran for a call meant for another incarnation")
        #expect(s.server.stats.wrongInstance == 2 && s.server.stats.replies["408"] == 2)
        // Its own incarnation, and no target at all (a caller of fixed endpoints).
        for (id, target) in [("mine", own), ("plain", nil)] {
            guard case .reply(let requestID, _, let body) = try await ask(id, target) else {
                Issue.record("\(String(describing: target)) was refused")
                continue
            }
            #expect(requestID == Array(id.utf8) && body == Array(id.utf8))
        }
        #expect(s.calls == 2)
        await s.server.close()
    }

    /// The registry lists two instances; at one's endpoint runs a process of another
    /// incarnation. Calls that are not idempotent all succeed on the other instance,
    /// the first one after a 408; the impostor runs none and is asked only once.
    @Test func aCallerSkipsAnEndpointAnotherProcessHoldsAndCallsTheRealInstance() async throws {
        let world = try await RpcRegistryWorld.start()
        let impostor = try await Self.server(incarnation: "echo/e-old@1")
        let live = try await Self.server(incarnation: "echo/e-live@1")
        try await world.register("e-dead", impostor.endpoint)
        try await world.register("e-live", live.endpoint)
        var options = RpcClient.Options()
        options.defaultDeadline = .seconds(60)
        let client = try RpcClient(service: "echo", registry: world.reader, options: options)
        try await eventually("both instances registered") { try await world.reader.lookup("echo").count == 2 }
        for i in 0..<12 {
            let answer = try await client.call(method: "test.echo", body: Array("\(i)".utf8), idempotent: false)
            #expect(answer == Array("\(i)".utf8))
        }
        #expect(impostor.calls == 0 && live.calls == 12)
        #expect(impostor.server.stats.wrongInstance == 1, "one 408, then that endpoint is not called again")

        // Only the impostor left: the call fails at once, saying why, with nothing run.
        try await world.writer.deregister(RpcRegistryWorld.registration("e-live", live.endpoint).key)
        try await eventually("e-live gone from the registry") { try await world.reader.lookup("echo").count == 1 }
        let alone = try RpcClient(service: "echo", registry: world.reader, options: options)
        let (e, took) = await timed { _ = try await alone.call(method: "test.echo", body: [], idempotent: false) }
        #expect(e?.code == .unreachable && e?.wireCode == .wrongInstance, "\(String(describing: e))")
        #expect(e?.message.contains("another process") == true, "\(String(describing: e))")
        #expect(took < .seconds(30), "refused at once, not at the 60 s deadline: \(took)")
        #expect(impostor.calls == 0)
        await alone.close()
        await client.close()
        await impostor.server.close()
        await live.server.close()
        await world.stop()
    }
}
