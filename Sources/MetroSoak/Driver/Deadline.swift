/// Runs `body` with a time limit: its result, or nil once `limit` passed (the
/// body's task is then cancelled, not awaited further). The soak's operations
/// use it so that no operation waits forever, which is itself an invariant
/// (`requests-answer-in-deadline`): "no answer" is recorded as `timedOut`.
func withDeadline<T: Sendable>(
    _ limit: Duration, _ body: @escaping @Sendable () async throws -> T
) async throws -> T? {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: limit)
            return nil
        }
        defer { group.cancelAll() }
        return try await group.next() ?? nil
    }
}
