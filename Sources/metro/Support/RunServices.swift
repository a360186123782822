import Logging
import ServiceLifecycle
import UnixSignals

/// Runs a long-running command's services in one `ServiceGroup` (graceful stop on
/// SIGTERM/SIGINT; `SupervisorWatch` added) and prints the ready line once the
/// group runs, so a SIGTERM right after it is a graceful stop. With a metrics
/// endpoint the line waits for it to be bound and carries its address as
/// `"metrics"`. A service that fails to start (a taken port) ends the command
/// with its error and no ready line.
func runServices(
    _ services: [any Service], ready: [String: String], metrics: MetricsEndpoint?, logger: Logger
) async throws {
    var services = services
    let (started, announce) = AsyncStream.makeStream(of: String?.self)
    if let metrics {
        services.append(try metrics.application(logger: logger, onRunning: { announce.yield($0) }))
    } else {
        services.append(OnStart { announce.yield(nil) })
    }
    let group = ServiceGroup(
        configuration: .init(
            services: services.map { .init(service: $0) } + [
                SupervisorWatch(logger: logger).configuration,
                .init(service: SystemdLifecycle(notifier: SystemdNotifier.shared, logger: logger)),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
    try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask {
            defer { announce.finish() }
            try await group.run()
        }
        for await address in started {
            var fields = ready
            if let address { fields["metrics"] = address }
            ReadyLine.print(fields)
            break
        }
        try await tasks.waitForAll()
    }
}

/// A service that runs `action` once the group has started it, then waits for
/// the group's shutdown.
struct OnStart: Service {
    let action: @Sendable () -> Void

    func run() async throws {
        action()
        try? await gracefulShutdown()
    }
}
