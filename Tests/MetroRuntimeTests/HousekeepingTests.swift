import Foundation
import GRDB
import Logging
import Synchronization
import Testing

@testable import MetroRuntime

/// `ServiceDefinition.every`: the first run at once, the next `interval` after each
/// run ends, a failing run logged and tried again, nothing after cancellation.
@Suite struct HousekeepingTests {
    struct Refused: Error {}

    /// Runs the definition's first housekeeping task on a real store until `until`
    /// holds for the runs seen, then cancels it; returns the runs' times.
    static func run(
        every interval: Duration, failing failingRun: Int? = nil,
        until done: @escaping @Sendable (Int) -> Bool
    ) async throws -> (runs: [ContinuousClock.Instant], afterCancel: Int) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("metro-hk-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        var definition = ServiceDefinition(name: "tidy")
        let runs = Mutex<[ContinuousClock.Instant]>([])
        definition.every(interval, "tick") { context in
            let n = runs.withLock {
                $0.append(.now)
                return $0.count
            }
            _ = try await context.store.read { try Int.fetchOne($0, sql: "SELECT 1") }
            if n == failingRun { throw Refused() }
        }
        let store = try await ServiceStore.open(
            folder: folder.path, service: definition.name, busyTimeout: .seconds(1),
            faults: FaultPoints(environment: [:]), migrations: definition.registerMigrations)
        let task = Task { await definition.housekeeping[0].loop(store: store, logger: Logger(label: "test")) }
        while !done(runs.withLock { $0.count }) { try await Task.sleep(for: .milliseconds(10)) }
        task.cancel()
        await task.value
        let seen = runs.withLock { $0 }
        try await Task.sleep(for: min(interval * 2, .milliseconds(300)))
        let after = runs.withLock { $0.count } - seen.count
        await store.close()
        return (seen, after)
    }

    /// With an interval of an hour, a run seen at all came without waiting for it.
    @Test func theFirstRunComesAtOnce() async throws {
        let started = ContinuousClock.now
        let result = try await Self.run(every: .seconds(3600)) { $0 >= 1 }
        #expect(result.runs.count == 1 && result.runs[0] - started < .seconds(60))
    }

    @Test func runsEveryIntervalThroughAFailureUntilCancelled() async throws {
        let result = try await Self.run(every: .milliseconds(100), failing: 2) { $0 >= 4 }
        for (a, b) in zip(result.runs, result.runs.dropFirst()) {
            #expect(b - a >= .milliseconds(100), "one interval apart")
        }
        #expect(result.afterCancel == 0, "no run after cancellation")
    }
}
