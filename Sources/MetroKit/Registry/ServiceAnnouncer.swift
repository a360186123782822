import Foundation
public import Logging
public import MetroProtocol
public import ServiceLifecycle

/// Keeps one instance registered for as long as it runs (protocol.md §5.11): registers,
/// heartbeats every `heartbeatInterval`, registers again at once when the registry
/// answers 300 `unknown-instance` (a restarted registry), retries while another live
/// process holds the instance id (305), and deregisters on graceful shutdown.
///
/// A swift-service-lifecycle `Service`: put it after the service's own rpc server in
/// the `ServiceGroup`, so it deregisters before the server stops. `run()` throws when
/// the registry refuses the registration for good (a bad field, or 301: a newer
/// incarnation has taken over).
public struct ServiceAnnouncer: Service {
    /// The instance kept registered: service, instance id, epoch, endpoints, metadata, TTL.
    public let registration: Registration
    /// Time between heartbeats; a third of the TTL unless given.
    public let heartbeatInterval: Duration
    private let client: RegistryClient
    private let logger: Logger
    private let onRegistered: @Sendable (LeaseGrant) -> Void

    /// `heartbeatInterval` defaults to a third of the TTL, so two lost heartbeats in a
    /// row still keep the lease. `onRegistered` runs after each successful REGISTER.
    public init(
        client: RegistryClient, registration: Registration, heartbeatInterval: Duration? = nil,
        logger: Logger = Logger(label: "metro.registry.announcer"),
        onRegistered: @escaping @Sendable (LeaseGrant) -> Void = { _ in }
    ) {
        self.client = client
        self.registration = registration
        self.heartbeatInterval = heartbeatInterval ?? .milliseconds(Int64(registration.ttlMilliseconds / 3))
        self.logger = logger
        self.onRegistered = onRegistered
    }

    /// Registers, then heartbeats until graceful shutdown or cancellation, and then
    /// deregisters (best effort). Throws `MetroClientError` when the registry refuses
    /// the registration for good; a registry that is away only delays it.
    public func run() async throws {
        var outcome: Result<Void, MetroClientError> = .success(())
        do {
            try await cancelWhenGracefulShutdown {
                try await keepLease()
            }
        } catch let e as MetroClientError {
            outcome = .failure(e)
        } catch is CancellationError {
            // Graceful shutdown (or cancellation) ended the loop.
        }
        if case .failure(let e) = outcome {
            logger.error("lease lost for good", metadata: ["instance": "\(registration.key)", "error": "\(e)"])
            throw e
        }
        do {
            try await client.deregister(registration.key)
            logger.info("deregistered", metadata: ["instance": "\(registration.key)"])
        } catch {
            logger.warning("deregister failed; the lease will expire", metadata: ["error": "\(error)"])
        }
    }

    /// Whether a failed REGISTER may succeed later: the registry was unreachable or
    /// busy, or another live process still holds the id (305). A registration the
    /// registry refuses on its merits (bad name, endpoint, TTL; stale epoch) never will.
    static func isWorthRetrying(_ e: MetroClientError) -> Bool {
        switch e.wireCode {
        case nil: e.code == .unreachable
        case .instanceConflict?, .internalError?, .unavailable?: true
        default: false
        }
    }

    private func keepLease() async throws {
        var registered = false
        while true {
            if !registered {
                do {
                    let grant = try await client.register(registration)
                    registered = true
                    logger.info("registered", metadata: ["instance": "\(registration.key)"])
                    onRegistered(grant)
                } catch {
                    guard Self.isWorthRetrying(error) else { throw error }
                    logger.warning("register failed; retrying", metadata: ["error": "\(error)"])
                }
            } else {
                do {
                    try await client.heartbeat(registration.key)
                } catch let e where e.wireCode == .unknownInstance {
                    logger.info(
                        "registry forgot this instance; registering again",
                        metadata: ["instance": "\(registration.key)"])
                    registered = false
                    continue
                } catch let e where e.wireCode == .staleEpoch {
                    throw e
                } catch {
                    logger.warning("heartbeat failed", metadata: ["error": "\(error)"])
                }
            }
            try await Task.sleep(for: heartbeatInterval)
        }
    }
}

extension Registration {
    /// The epoch of this process: nanoseconds since the Unix epoch when first read
    /// (strictly greater for a restarted process on a sane clock).
    public static let processEpoch: UInt64 = UInt64(Date().timeIntervalSince1970 * 1e9)
}
