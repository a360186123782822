import Logging
import MetroKit
import MetroProtocol
import Synchronization
import ZeroMQ

/// Frees the registry lease of a worker that `metro up` saw die.
///
/// The registry never lets a newer epoch displace a live lease (protocol.md
/// §5.4: it cannot tell a restart from a second process claiming the same id),
/// so a worker killed with -9 and restarted at once waited for its old lease to
/// run out before it could register again: 10–11 s in a soak run, most of a
/// killed worker's recovery time. The supervisor can tell: it reaped the old
/// process. So, before the restart, this DEREGISTERs the dead incarnation's key,
/// which the worker printed in its ready line (`service`, `instance`, `epoch`).
/// The registry then publishes `$registry.deregistered` at once, so callers stop
/// routing to the dead endpoint sooner too. Best effort: if the registry does
/// not answer, the restarted worker retries REGISTER until the lease runs out,
/// as before.
final class DeadInstanceReaper: Sendable {
    private let registry: String
    private let curve: CurveCredentials?
    private let logger: Logger
    /// The key each child registered under, from its latest ready line.
    private let keys = Mutex<[String: InstanceKey]>([:])

    init(registry: String, curve: CurveCredentials? = nil, logger: Logger) {
        self.registry = registry
        self.curve = curve
        self.logger = logger
    }

    /// Notes the key in a child's ready line (children that are not service workers have none).
    func childReady(_ child: String, fields: [String: String]) {
        guard let service = fields["service"], let instance = fields["instance"],
            let epoch = fields["epoch"].flatMap(UInt64.init)
        else { return }
        keys.withLock { $0[child] = InstanceKey(service: service, instance: instance, epoch: epoch) }
    }

    /// After `child` exited unexpectedly: deregisters the key it last registered under.
    func childDied(_ child: String) async {
        guard let key = keys.withLock({ $0.removeValue(forKey: child) }) else { return }
        var configuration = RegistryClient.Configuration(
            endpoints: [registry], requestTimeout: .seconds(1), attempts: 2)
        configuration.curve = curve
        guard let client = try? RegistryClient(configuration: configuration) else { return }
        do {
            try await client.deregister(key)
            logger.notice("deregistered the dead incarnation of \(child)", metadata: ["key": "\(key)"])
        } catch {
            logger.warning(
                "could not deregister the dead incarnation of \(child); its restart waits for the lease",
                metadata: ["key": "\(key)", "error": "\(error)"])
        }
        await client.close()
    }
}
