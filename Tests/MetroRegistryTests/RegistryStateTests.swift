import MetroProtocol
import Testing

@testable import MetroRegistry

/// The pure registry state, driven by a fake clock (`now` in nanoseconds).
@Suite struct RegistryStateTests {
    static let ms: UInt64 = 1_000_000

    func registration(
        _ instance: String = "p-1", service: String = "profiles", epoch: UInt64 = 10, ttl: UInt64 = 500,
        endpoint: String = "tcp://127.0.0.1:5000"
    ) -> Registration {
        Registration(
            service: service, instance: instance, epoch: epoch, endpoints: [endpoint], metadata: ["v": "1"],
            ttlMilliseconds: ttl)
    }

    @Test func registerThenLookupReturnsTheInstance() throws {
        var state = RegistryState()
        #expect(try state.register(registration(), now: 0).get() == .added)
        let result = state.lookup("profiles", now: 1)
        #expect(
            result.instances == [
                InstanceInfo(instance: "p-1", epoch: 10, endpoints: ["tcp://127.0.0.1:5000"], metadata: ["v": "1"])
            ])
        #expect(state.lookup("other", now: 1).instances.isEmpty)
        #expect(state.count == 1)
    }

    @Test func leaseExpiresExactlyAtTTLAndSweepReportsIt() throws {
        var state = RegistryState()
        _ = state.register(registration(ttl: 500), now: 1_000 * Self.ms)
        #expect(state.nextExpiry == 1_500 * Self.ms)
        #expect(state.sweep(now: 1_499 * Self.ms).isEmpty)
        #expect(state.lookup("profiles", now: 1_499 * Self.ms).instances.count == 1)
        // Not yet swept, but no longer healthy: LOOKUP never returns an expired lease.
        #expect(state.lookup("profiles", now: 1_500 * Self.ms).instances.isEmpty)
        let expired = state.sweep(now: 1_500 * Self.ms)
        #expect(expired.map(\.instance) == ["p-1"])
        #expect(state.count == 0)
        #expect(state.nextExpiry == nil)
    }

    @Test func heartbeatRenewsTheLease() throws {
        var state = RegistryState()
        let r = registration(ttl: 500)
        _ = state.register(r, now: 0)
        #expect(try state.heartbeat(r.key, now: 400 * Self.ms).get() == 500)
        #expect(state.sweep(now: 600 * Self.ms).isEmpty)
        #expect(state.list(now: 600 * Self.ms).instances.first?.leaseLeftMilliseconds == 300)
        #expect(state.list(now: 600 * Self.ms).instances.first?.sinceHeartbeatMilliseconds == 200)
        #expect(state.list(now: 600 * Self.ms).instances.first?.ageMilliseconds == 600)
        #expect(state.sweep(now: 900 * Self.ms).count == 1)
    }

    @Test func heartbeatForUnknownOrExpiredInstanceIs300() {
        var state = RegistryState()
        let r = registration(ttl: 500)
        #expect(state.heartbeat(r.key, now: 0).failureCode == .unknownInstance)
        _ = state.register(r, now: 0)
        #expect(state.heartbeat(r.key, now: 500 * Self.ms).failureCode == .unknownInstance)
    }

    @Test func olderEpochIsStaleForEveryCommand() {
        var state = RegistryState()
        _ = state.register(registration(epoch: 10), now: 0)
        let old = registration(epoch: 9)
        #expect(state.register(old, now: 1).failureCode == .staleEpoch)
        #expect(state.heartbeat(old.key, now: 1).failureCode == .staleEpoch)
        #expect(state.deregister(old.key, now: 1).failureCode == .staleEpoch)
        #expect(state.lookup("profiles", now: 2).instances.first?.epoch == 10)
    }

    @Test func newerEpochWhileTheLeaseIsLiveIsAConflictThenWinsAfterExpiry() throws {
        var state = RegistryState()
        _ = state.register(registration(epoch: 10, ttl: 500, endpoint: "tcp://127.0.0.1:5000"), now: 0)
        let second = registration(epoch: 11, ttl: 500, endpoint: "tcp://127.0.0.1:6000")
        #expect(state.register(second, now: 100 * Self.ms).failureCode == .instanceConflict)
        #expect(state.heartbeat(second.key, now: 100 * Self.ms).failureCode == .unknownInstance)
        #expect(state.lookup("profiles", now: 100 * Self.ms).instances.first?.endpoints == ["tcp://127.0.0.1:5000"])
        #expect(state.sweep(now: 500 * Self.ms).count == 1)
        #expect(try state.register(second, now: 500 * Self.ms).get() == .added)
        #expect(state.lookup("profiles", now: 501 * Self.ms).instances.first?.epoch == 11)
    }

    @Test func newerEpochAfterDeregisterIsAccepted() throws {
        var state = RegistryState()
        let first = registration(epoch: 10)
        _ = state.register(first, now: 0)
        #expect(try state.deregister(first.key, now: 1).get() == first)
        #expect(try state.register(registration(epoch: 11), now: 2).get() == .added)
    }

    @Test func sameEpochRefreshesAndReportsChanges() throws {
        var state = RegistryState()
        let r = registration(epoch: 10, ttl: 500)
        _ = state.register(r, now: 0)
        #expect(try state.register(r, now: 400 * Self.ms).get() == .refreshed(changed: false))
        #expect(state.sweep(now: 800 * Self.ms).isEmpty)
        var moved = r
        moved.endpoints = ["tcp://127.0.0.1:7000"]
        #expect(try state.register(moved, now: 800 * Self.ms).get() == .refreshed(changed: true))
        #expect(state.lookup("profiles", now: 801 * Self.ms).instances.first?.endpoints == ["tcp://127.0.0.1:7000"])
        #expect(state.count == 1)
    }

    @Test func deregisterRemovesAndUnknownIs300() throws {
        var state = RegistryState()
        let r = registration()
        _ = state.register(r, now: 0)
        _ = try state.deregister(r.key, now: 1).get()
        #expect(state.lookup("profiles", now: 2).instances.isEmpty)
        #expect(state.deregister(r.key, now: 3).failureCode == .unknownInstance)
        #expect(state.count == 0)
    }

    @Test func listIsSortedAndSweepExpiresOnlyDueLeases() {
        var state = RegistryState()
        _ = state.register(registration("b", ttl: 300), now: 0)
        _ = state.register(registration("a", ttl: 900), now: 0)
        _ = state.register(registration("z", service: "alpha", ttl: 300), now: 0)
        #expect(
            state.list(now: 1).instances.map { "\($0.service)/\($0.instance)" } == [
                "alpha/z", "profiles/a", "profiles/b",
            ])
        #expect(state.nextExpiry == 300 * Self.ms)
        #expect(state.sweep(now: 300 * Self.ms).map(\.instance) == ["z", "b"])
        #expect(state.nextExpiry == 900 * Self.ms)
        #expect(state.count == 1)
    }

    @Test func instanceIdsAreScopedByService() throws {
        var state = RegistryState()
        _ = try state.register(registration("x", service: "a", epoch: 1), now: 0).get()
        _ = try state.register(registration("x", service: "b", epoch: 5), now: 0).get()
        #expect(state.count == 2)
    }
}

extension Result {
    var failureCode: WireErrorCode? {
        if case .failure(let e as WireError) = self { return e.code }
        return nil
    }
}
