import Foundation
import Logging
import ServiceLifecycle

#if canImport(Glibc)
    import Glibc
#endif

/// Ends a supervised child (`metro up`'s broker or registry) gracefully when its
/// supervisor is gone, even if the supervisor was killed with -9: otherwise the
/// orphan keeps its ports and a new `metro up` cannot start.
///
/// The supervisor puts its pid in `METRO_SUPERVISOR_PID`; the child checks its
/// parent pid four times a second and returns when it changed, which (run with
/// `successTerminationBehavior: .gracefullyShutdownGroup`) shuts the child's
/// service group down like a SIGTERM: the broker flushes its journal first.
/// (`PR_SET_PDEATHSIG` would be quicker but fires when the *thread* that spawned
/// the child exits, and Foundation spawns from a pool thread that may.)
struct SupervisorWatch: Service {
    static let environmentKey = "METRO_SUPERVISOR_PID"
    let supervisor: Int32?
    let logger: Logger

    init(logger: Logger, environment: [String: String] = ProcessInfo.processInfo.environment) {
        supervisor = environment[Self.environmentKey].flatMap { Int32($0) }
        self.logger = logger
    }

    func run() async throws {
        guard let supervisor else {
            try await gracefulShutdown()  // not supervised: nothing to watch
            return
        }
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            if getppid() != supervisor {
                logger.warning("the supervisor is gone: stopping", metadata: ["supervisor": "\(supervisor)"])
                return
            }
            try? await Task.sleep(for: .milliseconds(250))
        }
    }

    /// The service-group entry: its return shuts the group down gracefully.
    var configuration: ServiceGroupConfiguration.ServiceConfiguration {
        .init(service: self, successTerminationBehavior: .gracefullyShutdownGroup)
    }
}
