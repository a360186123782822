import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A child started with `ChildSpawn`, watched until it exits: a thread blocks in
/// `waitid`, records the status, then reaps the child. `signal` checks the record
/// under the same lock, so no signal ever reaches another process that got the
/// pid after the reap. `metro up`'s supervisor and `metro soak` keep their
/// children this way.
///
/// Threading: every member from any thread or task.
public final class WatchedChild: Sendable {
    public let pid: Int32
    private let state = Mutex<(status: ChildExit.Status?, waiters: [CheckedContinuation<ChildExit.Status, Never>])>(
        (nil, []))

    /// Starts watching `spawned` (which nobody else may reap).
    public init(_ spawned: ChildSpawn.Spawned) {
        pid = spawned.pid
        let thread = Thread { [self, pid] in
            _ = ChildSpawn.waitAndReap(pid) { status in
                let waiters = state.withLock { state in
                    state.status = status
                    defer { state.waiters = [] }
                    return state.waiters
                }
                for waiter in waiters { waiter.resume(returning: status) }
            }
        }
        thread.name = "metro-child-wait"
        thread.start()
    }

    /// Whether its exit has not been recorded yet.
    public var isRunning: Bool { state.withLock { $0.status == nil } }

    /// Its exit, once recorded.
    public var status: ChildExit.Status? { state.withLock { $0.status } }

    /// Sends `signal` unless the child has exited.
    public func signal(_ signal: Int32) {
        state.withLock { state in
            if state.status == nil { _ = kill(pid, signal) }
        }
    }

    /// Suspends until the child has exited.
    public func exit() async -> ChildExit.Status {
        await withCheckedContinuation { continuation in
            let done: ChildExit.Status? = state.withLock { state in
                if let status = state.status { return status }
                state.waiters.append(continuation)
                return nil
            }
            if let done { continuation.resume(returning: done) }
        }
    }
}
