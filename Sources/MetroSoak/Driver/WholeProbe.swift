import Foundation
import MetroKit
import MetroProtocol
import Profiles
import Recommendations
import VideoProcessing

/// "Whole again": every expected service instance is registered (registry
/// LIST), the broker ACKs a probe publish, each service's consumer group has a
/// member again (broker STATS), and the gateway's `/readyz` answers 200 (when a
/// gateway runs). Asked after each fault until it holds; the time it first holds
/// is the fault's `wholeAgainNs`. Without the groups, a broker killed with -9 was
/// "whole again" as soon as it ACKed, before any worker had joined its group
/// again: nothing was consumed yet.
///
/// Probe events go to topic `soak.probe`, which no service consumes; they are
/// in the journal like any event (the checker's seq and id rules see them).
final class WholeProbe: Sendable {
    private let topology: SoakTopology
    private let registry: RegistryClient
    private let publisher: Publisher
    private let http: SoakHTTP

    init(topology: SoakTopology, registry: RegistryClient, http: SoakHTTP) throws {
        self.topology = topology
        self.registry = registry
        self.http = http
        var options = Publisher.Options(ingest: topology.ingest)
        options.ackTimeout = .milliseconds(500)
        publisher = try Publisher(options)
    }

    func close() async { await publisher.close() }

    /// What is missing right now (empty: whole).
    func missing() async -> [String] {
        async let registered = registeredMissing()
        async let broker = brokerAcks()
        async let gateway = gatewayReady()
        async let groups = groupsWithoutMember()
        var missing = await registered
        if await !broker { missing.append("broker ACK") }
        missing += await groups
        if await !gateway { missing.append("gateway /readyz") }
        return missing
    }

    /// Asks every 200 ms until whole (and `also` reports nothing missing) or
    /// `timeout`; the recorder's time when it was, nil if it never was.
    func waitWhole(
        recorder: HistoryRecorder, timeout: Duration, also: @Sendable () async -> String? = { nil }
    ) async -> UInt64? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if await also() == nil, await missing().isEmpty { return recorder.nowNs() }
            try? await Task.sleep(for: .milliseconds(200))
        }
        return nil
    }

    /// Each registered instance's epoch (incarnation) by instance id: a killed
    /// worker is back only once it registered again with a new epoch. Its old
    /// registration stays listed until its lease expires, so "listed" alone
    /// would call the system whole 16 ms after a kill (seen in a run).
    func epochs() async -> [String: UInt64] {
        guard let listed = try? await withDeadline(.seconds(2), { try await self.registry.list() }) else { return [:] }
        return Dictionary(listed.map { ($0.instance, $0.epoch) }) { a, _ in a }
    }

    private func registeredMissing() async -> [String] {
        guard let listed = try? await withDeadline(.seconds(2), { try await self.registry.list() }) else {
            return ["registry LIST"]
        }
        let registered = Set(listed.map { "\($0.service)/\($0.instance)" })
        return topology.instances.map { "\($0.service)/\($0.instance)" }.filter { !registered.contains($0) }
    }

    private func brokerAcks() async -> Bool {
        let payload = Array(#"{"probe":true}"#.utf8)
        let acked = try? await withDeadline(.seconds(2)) {
            try await self.publisher.publish(topic: "soak.probe", payload: payload)
        }
        return acked != nil
    }

    /// The consumer groups of the services the topology runs that the broker knows
    /// with no member (a group it does not know yet is not waited for: a service
    /// joins its group only once it has started).
    private func groupsWithoutMember() async -> [String] {
        let groupOf = [
            "profiles": Profiles.group, "video": VideoProcessing.group, "recommendations": Recommendations.group,
        ]
        let wanted = Set(topology.instances.compactMap { groupOf[$0.service] })
        guard !wanted.isEmpty else { return [] }
        guard case .success(let stats) = await GroupDrainWaiter.stats(topology.consume) else { return ["broker STATS"] }
        return wanted.sorted().filter { stats.groups[$0].map { $0.members == 0 } ?? false }.map { "group \($0) member" }
    }

    private func gatewayReady() async -> Bool {
        guard let gateway = topology.gateway else { return true }
        return (try? await http.get(gateway, "/readyz", timeout: .seconds(2)))?.status == 200
    }
}
