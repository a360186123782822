import UnixSignals

/// Runs `body` until it returns or SIGINT/SIGTERM arrives; on a signal `body`'s
/// task is cancelled and this returns normally, so the caller's clean-up (a
/// consumer's LEAVE, closing sockets) runs and the process exits with status 0.
/// For the interactive commands that run no `ServiceGroup` (`metro consume`,
/// `metro services --watch`, `metro tail`).
func untilSignal(_ body: @escaping @Sendable () async throws -> Void) async throws {
    let signals = await UnixSignalsSequence(trapping: .sigint, .sigterm)
    try await withThrowingTaskGroup(of: Bool.self) { group in
        group.addTask {
            try await body()
            return true
        }
        group.addTask {
            for await _ in signals { return false }
            return false
        }
        // Whichever ends first ends both: the body finished, or a signal came.
        _ = try await group.next()
        group.cancelAll()
    }
}
