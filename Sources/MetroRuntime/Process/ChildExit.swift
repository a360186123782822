import Foundation
public import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// What the spawners of a Metro process share: a child's exit `Status`, the
/// `spawning` lock, and `deadButNotReaped`, the kernel's word on a child.
///
/// Foundation's `Process` on Linux learns of a child's exit through a socket the
/// child inherits: the end of file comes when the child *and every process
/// holding a copy of that socket* are gone. The socket is not close-on-exec, and
/// a child spawned at the same moment on another thread can inherit it: in one
/// chaos soak of ~20 (seed 1380, 2026-12-04) a worker killed with -9 was never
/// reported, so `metro up` never restarted it. `ChildSpawn` now starts every
/// child a Metro process starts (it closes the child's other descriptors, and
/// `WatchedChild` or `ChildSpawn.exit(of:)` reaps with `waitid`).
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

    /// Held while a child is spawned (its pipes and files opened, then the spawn),
    /// by every spawner of this process.
    public static let spawning = Mutex<Void>(())

    /// The status of `pid` if it has exited and is waiting to be reaped; nil while it
    /// runs, or once it was reaped.
    public static func deadButNotReaped(_ pid: Int32) -> Status? {
        var info = siginfo_t()
        guard waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 else { return nil }
        guard info._sifields._sigchld.si_pid == pid else { return nil }
        return Status(code: info._sifields._sigchld.si_status, exited: info.si_code == CLD_EXITED)
    }
}
