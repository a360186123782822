import Foundation
import MetroKit
import MetroProtocol
import Profiles
import Recommendations
import VideoProcessing

/// "Whole again": every expected service instance is registered (registry
/// LIST), the broker ACKs a probe publish, each service's consumer group has a
/// member again (broker STATS), and, when a gateway runs, its `/readyz` answers
/// 200 and it routes a request to each service the topology runs. Asked after
/// each fault until it holds; the time it first holds is the fault's
/// `wholeAgainNs`. Without the groups, a broker killed with -9 was "whole again"
/// as soon as it ACKed, before any worker had joined its group again: nothing
/// was consumed yet. Without the routes, a paused worker was "whole again" while
/// the gateway still refused its requests (`gatewayRoutesMissing`).
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
        options.curve = topology.security?.broker
        publisher = try Publisher(options)
    }

    func close() async { await publisher.close() }

    /// What is missing right now (empty: whole).
    func missing() async -> [String] {
        async let registered = registeredMissing()
        async let broker = brokerAcks()
        async let gateway = gatewayReady()
        async let groups = groupsWithoutMember()
        async let routes = gatewayRoutesMissing()
        var missing = await registered
        if await !broker { missing.append("broker ACK") }
        missing += await groups
        if await !gateway { missing.append("gateway /readyz") }
        missing += await routes
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
        guard
            case .success(let stats) = await GroupDrainWaiter.stats(topology.consume, curve: topology.security?.broker)
        else { return ["broker STATS"] }
        return wanted.sorted().filter { stats.groups[$0].map { $0.members == 0 } ?? false }.map { "group \($0) member" }
    }

    /// The services the gateway does not serve right now: for each service the
    /// topology runs, a GET the gateway routes to it (an id that exists nowhere)
    /// must be answered by the service (200 or 404), not refused by the gateway
    /// (429, 5xx). After a worker's fault its registration and group come back
    /// before the gateway calls it again: the gateway's circuit breaker for the
    /// instance stays open for its cool-down (2 s) after the last failure. A
    /// 90-s chaos run (seed 7, 2026-12-05) had 13 recommendation requests refused
    /// `circuit-open` up to 0.6 s after the paused instance was "whole again",
    /// reported as failures outside any fault.
    private func gatewayRoutesMissing() async -> [String] {
        guard let gateway = topology.gateway else { return [] }
        let nobody = "00000000-0000-4000-8000-000000000000"
        let routes = [
            "profiles": "/v1/users/\(nobody)", "video": "/v1/videos/\(nobody)",
            "recommendations": "/v1/users/\(nobody)/recommendations?limit=1",
        ]
        let services = Set(topology.instances.map(\.service)).sorted().compactMap { s in routes[s].map { (s, $0) } }
        return await withTaskGroup(of: String?.self) { group in
            for (service, path) in services {
                group.addTask {
                    let status = (try? await self.http.get(gateway, path, timeout: .seconds(2)))?.status ?? 0
                    return status == 200 || status == 404 ? nil : "gateway → \(service) (\(status))"
                }
            }
            var missing: [String] = []
            for await entry in group { if let entry { missing.append(entry) } }
            return missing.sorted()
        }
    }

    private func gatewayReady() async -> Bool {
        guard let gateway = topology.gateway else { return true }
        return (try? await http.get(gateway, "/readyz", timeout: .seconds(2)))?.status == 200
    }
}
