import Foundation
import Logging
import MetroProtocol
import Synchronization
import Testing
import ZeroMQ

@testable import MetroRegistry

/// The server loop in-process, with a fake clock and a recording `MembershipPublisher`:
/// the sweeper and the events follow the injected clock, not the wall clock.
@Suite struct RegistryServerTests {
    /// Records events; written on the loop thread, read by the test.
    final class RecordingPublisher: MembershipPublisher, @unchecked Sendable {
        let events = Mutex<[MembershipEvent]>([])
        let closed = Atomic<Bool>(false)
        func publish(_ event: MembershipEvent) { events.withLock { $0.append(event) } }
        func close() { closed.store(true, ordering: .relaxed) }
        var kinds: [String] { events.withLock { $0.map { "\($0.kind.rawValue) \($0.instance)" } } }
    }

    final class FakeClock: Sendable {
        let nanoseconds = Atomic<UInt64>(1_000_000_000)
        func advance(milliseconds: UInt64) { nanoseconds.add(milliseconds * 1_000_000, ordering: .relaxed) }
        var now: UInt64 { nanoseconds.load(ordering: .relaxed) }
    }

    func withServer(_ body: (RecordingPublisher, FakeClock, Socket) async throws -> Void) async throws {
        let publisher = RecordingPublisher()
        let clock = FakeClock()
        let server = try RegistryServer(
            configuration: .init(endpoint: "tcp://127.0.0.1:*", sweepIntervalMilliseconds: 5),
            logger: Logger(label: "test"), publisher: publisher, clock: { clock.now })
        let running = Task { await server.run() }
        let context = try Context(defaultLingerMilliseconds: 0)
        let req = try context.socket(.req)
        try req.set(.receiveTimeout(milliseconds: 5000))
        try req.connect(server.endpoint)
        do {
            try await body(publisher, clock, req)
        } catch {
            server.stop()
            await running.value
            throw error
        }
        req.close()
        server.stop()
        await running.value
        let closed = publisher.closed.load(ordering: .relaxed)
        #expect(closed)
    }

    /// Sends `r` and waits up to 30 s for the reply without holding a thread of
    /// Swift's cooperative pool (two threads here): `server.run()` needs one to start
    /// its loop, and a blocking receive beside another test's blocking call left it
    /// none, so the first request timed out (seen once in a full run). 5 s was still
    /// too little once the suites ran fully in parallel (MetroTestKit) on a machine
    /// building at the same time: other tests' blocking 5 s receives can hold both
    /// threads in turn before the server's task starts. The budget is not the
    /// property under test; the replies are.
    func request(_ req: Socket, _ r: RegistryRequest) async throws -> RegistryReply {
        try req.send(multipart: r.encode())
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if let frames = try req.receiveMultipart(dontWait: true) { return try RegistryReply.decode(frames).get() }
            try await Task.sleep(for: .milliseconds(1))
        }
        Issue.record("no reply to \(r) within 30 s")
        throw CancellationError()
    }

    @Test func leasesFollowTheInjectedClockAndEveryChangeIsPublished() async throws {
        try await withServer { publisher, clock, req in
            let a = Registration(
                service: "svc", instance: "a", epoch: 1, endpoints: ["tcp://h:1"], ttlMilliseconds: 1000)
            let b = Registration(
                service: "svc", instance: "b", epoch: 1, endpoints: ["tcp://h:2"], ttlMilliseconds: 1000)
            _ = try await request(req, .register(a))
            _ = try await request(req, .register(b))
            _ = try await request(req, .register(b))  // a retry: no second event
            _ = try await request(req, .deregister(b.key))
            #expect(publisher.kinds == ["registered a", "registered b", "deregistered b"])

            // Real time passes, the fake clock does not: the lease holds.
            try await Task.sleep(for: .milliseconds(50))
            #expect(
                try await request(req, .lookup(service: "svc")).result(LookupResult.self).get().instances.count == 1)

            clock.advance(milliseconds: 999)
            #expect(try await request(req, .heartbeat(a.key)).result(LeaseGrant.self).get().ttlMilliseconds == 1000)
            clock.advance(milliseconds: 999)
            #expect(
                try await request(req, .lookup(service: "svc")).result(LookupResult.self).get().instances.count == 1)
            clock.advance(milliseconds: 1)
            // The sweeper runs from the poll timeout, without a request.
            let deadline = ContinuousClock.now + .seconds(5)
            while !publisher.kinds.contains("expired a") && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(5))
            }
            #expect(publisher.kinds == ["registered a", "registered b", "deregistered b", "expired a"])
            #expect(try await request(req, .lookup(service: "svc")).result(LookupResult.self).get().instances.isEmpty)
            let stats = try await request(req, .stats).result(RegistryStats.self).get()
            #expect(stats.expired == 1 && stats.instances == 0)
        }
    }
}
