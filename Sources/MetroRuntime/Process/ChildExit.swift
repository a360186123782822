import Foundation
public import Logging
public import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// How a process learns that a child it started with Foundation's `Process`
/// exited: Foundation's termination handler, checked against the kernel. Used by
/// `metro up`'s supervisor (the video worker's tools and the test kit's children
/// start with `ChildSpawn`, which reaps them itself).
///
/// Foundation on Linux learns of a child's exit through a socket the child
/// inherits: the end of file comes when the child *and every process holding a
/// copy of that socket* are gone. The socket is not close-on-exec, and a child
/// spawned at the same moment on another thread can inherit it (the test kit met
/// this first: Tests/MetroTestKit/ChildProcess.swift). In one chaos soak of ~20
/// (seed 1380, 2026-12-04) a worker killed with -9 was never reported, so
/// `metro up` never restarted it: the broker saw the member lost, the registry
/// its lease expire, and the supervisor listed the pid as running until shutdown.
///
/// So spawns hold `spawning` (no sibling is spawned while a child's descriptors
/// are open unprotected), and the waiter also asks the kernel, four times a
/// second, with `waitid(WEXITED | WNOHANG | WNOWAIT)`: that sees a dead child
/// without reaping it (Foundation still reaps; reaping here could race a reused
/// pid). A child the kernel says is dead and Foundation has not reported a second
/// later is treated as exited, with a warning that says so.
public enum ChildExit {
    public struct Status: Sendable, Equatable {
        /// The exit status, or the signal that ended the child.
        public let code: Int32
        /// True for an exit, false for a signal.
        public let exited: Bool

        public init(code: Int32, exited: Bool) {
            self.code = code
            self.exited = exited
        }
    }

    /// Held while a child is spawned with Foundation's `Process` (its pipes and
    /// files opened, then `run()`), by every spawner of this process.
    public static let spawning = Mutex<Void>(())

    /// Suspends until the child `pid` has exited; `reported` is Foundation's report.
    public static func wait(
        pid: Int32, name: String, reported: AsyncStream<Status>, logger: Logger,
        every interval: Duration = .milliseconds(250), grace: Duration = .seconds(1)
    ) async -> Status {
        await withTaskGroup(of: Status?.self) { group in
            group.addTask {
                for await status in reported { return status }
                return nil
            }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: interval)
                    guard let status = deadButNotReaped(pid) else { continue }
                    try? await Task.sleep(for: grace)
                    if Task.isCancelled { return nil }
                    logger.warning(
                        "\(name) exited but Foundation did not report it within \(grace); going on without it",
                        metadata: ["pid": "\(pid)", "status": "\(status.code)", "exited": "\(status.exited)"])
                    return status
                }
                return nil
            }
            var first: Status?
            while first == nil, let next = await group.next() { first = next }
            group.cancelAll()
            return first ?? Status(code: -1, exited: false)
        }
    }

    /// The status of `pid` if it has exited and is waiting to be reaped; nil while it
    /// runs, or once it was reaped.
    public static func deadButNotReaped(_ pid: Int32) -> Status? {
        var info = siginfo_t()
        guard waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 else { return nil }
        guard info._sifields._sigchld.si_pid == pid else { return nil }
        return Status(code: info._sifields._sigchld.si_status, exited: info.si_code == CLD_EXITED)
    }
}
