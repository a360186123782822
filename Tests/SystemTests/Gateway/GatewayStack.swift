import Foundation
import MetroTestKit
import Synchronization

/// A value shared by a test's concurrent tasks, behind a lock.
final class Recorder<T: Sendable>: Sendable {
    let value: Mutex<T>
    init(_ initial: T) { value = Mutex(initial) }
}

/// Broker, registry (publishing membership events through the broker, so the
/// gateway's registry cache follows them), one profiles worker and the gateway:
/// all real processes on loopback.
struct GatewayStack {
    static let brokerConfig = "heartbeatIntervalMs: 200\njournal:\n  fsync: never\n"

    let broker: BrokerHarness
    let registry: RegistryUnderTest
    let profiles: ProfilesWorker
    let gateway: GatewayUnderTest

    init(
        gatewayArguments: [String] = [], profilesArguments: [String] = [],
        profilesEnvironment: [String: String] = [:]
    ) async throws {
        broker = try await BrokerHarness(config: Self.brokerConfig)
        registry = try await RegistryUnderTest(broker: broker.publish)
        profiles = try await ProfilesWorker.launch(
            broker: broker, registry: registry.endpoint, environment: profilesEnvironment,
            extra: profilesArguments)
        gateway = try await GatewayUnderTest(broker: broker, registry: registry.endpoint, extra: gatewayArguments)
    }

    /// Creates a user through the gateway; its id.
    func createUser(_ name: String) async throws -> String {
        let reply = try await gateway.post(
            "/v1/users",
            ["displayName": name, "email": "\(name.lowercased())-\(UUID().uuidString.prefix(8))@example.com"])
        guard reply.status == 201, let id = reply.json["id"] as? String else {
            throw WaitError.unexpected("create user: \(reply.status) \(reply.text)")
        }
        return id
    }
}

/// Latencies of a batch of requests, for percentiles.
struct Latencies {
    var samples: [Duration] = []
    mutating func add(_ d: Duration) { samples.append(d) }
    func percentile(_ p: Double) -> Duration {
        let sorted = samples.sorted()
        guard !sorted.isEmpty else { return .zero }
        return sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)]
    }
}
