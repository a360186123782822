public import Logging

/// A task a service runs on a timer while it serves: removing files nothing
/// will use again, expiring rows. Declared with `ServiceDefinition.every`.
///
/// The runtime starts each one once the instance is ready (its first run comes
/// at once, so a restart after a crash cleans up what the crash left), runs it
/// again `interval` after each run ends (never two runs of one task at a time),
/// and cancels it at the first step of shutdown, before the store closes. A run
/// that throws is logged as a warning and tried again at the next interval: a
/// housekeeping failure never stops the instance.
///
/// Every instance of the service runs it: a task whose work must not overlap
/// with another instance's takes a lock of its own (the video service's sweep
/// takes a `flock` on a file beside its database and skips a round it cannot get).
struct HousekeepingRegistration: Sendable {
    let name: String
    let interval: Duration
    let run: @Sendable (HousekeepingContext) async throws -> Void

    /// Runs until cancelled.
    func loop(store: ServiceStore, logger: Logger) async {
        var logger = logger
        logger[metadataKey: "task"] = "\(name)"
        let context = HousekeepingContext(store: store, logger: logger)
        while !Task.isCancelled {
            do {
                try await run(context)
            } catch is CancellationError {
                return
            } catch {
                if Task.isCancelled { return }
                logger.warning("housekeeping failed; tried again in \(interval): \(error)")
            }
            do { try await Task.sleep(for: interval) } catch { return }
        }
    }
}

/// What a housekeeping run gets: the service's store and a logger (with the
/// service, the instance and the task's name as metadata).
public struct HousekeepingContext: Sendable {
    public let store: ServiceStore
    public let logger: Logger
}

extension ServiceDefinition {
    /// Runs `task` every `interval` while the instance serves (the first time at
    /// once when it is ready), on every instance; cancelled at shutdown. An error
    /// it throws is logged and the task runs again at the next interval. See
    /// `HousekeepingRegistration` for the rules.
    public mutating func every(
        _ interval: Duration, _ name: String, _ task: @escaping @Sendable (HousekeepingContext) async throws -> Void
    ) {
        precondition(interval > .zero, "a housekeeping interval is positive")
        housekeeping.append(HousekeepingRegistration(name: name, interval: interval, run: task))
    }
}
