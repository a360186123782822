import Foundation
import MetroKit
import MetroTestKit
import Testing

@testable import MetroSoak

/// The soak's "whole again" includes the gateway serving each service (not only
/// the service registered and in its group): after a worker's pause the gateway's
/// circuit breaker refused its requests for a while, and a 90-s chaos run counted
/// those as failures outside any fault.
@Suite struct WholeProbeTests {
    @Test func aPausedServiceIsMissingUntilTheGatewayServesItAgain() async throws {
        let stack = try await GatewayStack()
        let topology = SoakTopology(
            ingest: stack.broker.ingest, publish: stack.broker.publish, events: stack.broker.events,
            consume: stack.broker.consume, registry: stack.registry.endpoint, gateway: stack.gateway.address,
            instances: [SoakInstance(service: "profiles", instance: "profiles-1")], upPid: nil)
        let registry = try RegistryClient(endpoints: [stack.registry.endpoint])
        let probe = try WholeProbe(topology: topology, registry: registry, http: SoakHTTP())
        try await eventually("whole at start") { await probe.missing().isEmpty }

        try await stack.profiles.process.freeze()
        // Registered and in its group all along (a 3-s pause is within its lease),
        // yet the gateway cannot serve it.
        let paused = await probe.missing()
        #expect(paused.contains { $0.hasPrefix("gateway → profiles") }, "\(paused)")
        #expect(!paused.contains("profiles/profiles-1"), "\(paused)")
        stack.profiles.process.thaw()
        try await eventually("whole again once the gateway serves profiles", timeout: .seconds(20)) {
            await probe.missing().isEmpty
        }
        await probe.close()
        await registry.close()
    }
}
