import Foundation
import Logging
import MetroKit

/// The clients the load uses, made once per run: a registry client, one rpc
/// client per service (found through the registry, as the gateway finds them),
/// an acknowledged publisher for views, and HTTP for the gateway.
final class SoakClients: Sendable {
    let registry: RegistryClient
    let profiles: RpcClient
    let video: RpcClient
    let recommendations: RpcClient
    let publisher: Publisher
    let http: SoakHTTP
    let gateway: String?

    init(topology: SoakTopology, logger: Logger) throws {
        var registryConfiguration = RegistryClient.Configuration(endpoints: [topology.registry])
        registryConfiguration.eventsEndpoint = topology.events
        registryConfiguration.curve = topology.security?.registry
        registryConfiguration.eventsCurve = topology.security?.broker
        registry = try RegistryClient(configuration: registryConfiguration)
        var rpc = RpcClient.Options()
        // Each service's key comes from its registration (protocol.md §7.10).
        rpc.curveKeys = topology.security?.keys
        // One attempt: a soak records what one call did; retries would hide faults
        // from the history (idempotent reads are retried by the caller's next op).
        rpc.maxAttempts = 1
        profiles = try RpcClient(service: "profiles", registry: registry, options: rpc, logger: logger)
        video = try RpcClient(service: "video", registry: registry, options: rpc, logger: logger)
        recommendations = try RpcClient(service: "recommendations", registry: registry, options: rpc, logger: logger)
        var publish = Publisher.Options(ingest: topology.ingest)
        // A loaded 2-core machine can hold an ACK past the default second.
        publish.ackTimeout = .seconds(2)
        publish.curve = topology.security?.broker
        publisher = try Publisher(publish, logger: logger)
        http = SoakHTTP(bearerToken: topology.security?.bearerToken)
        gateway = topology.gateway
    }

    func close() async {
        await publisher.close()
        await profiles.close()
        await video.close()
        await recommendations.close()
        await registry.close()
        http.close()
    }
}
