import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Starts a child with `posix_spawn` and waits for it with `waitid`, without
/// Foundation's `Process`. Every child Metro starts comes from here: `metro up`'s
/// (`WatchedChild`), the video worker's tools (`CommandRunner`), `metro soak`'s
/// and the test kit's.
///
/// Why not Foundation's `Process` on Linux (docs/performance.md, "Findings about
/// Foundation's Process"):
/// - `run()` lists `/proc/self/fd` to close every descriptor in the child, and
///   copies each entry's whole 256-byte `d_name` although glibc's entries are
///   24 bytes: with over ~1,360 descriptors open, the last entry of glibc's
///   32 KiB buffer sits near its end and the copy reads past it. When that is the
///   end of the heap's mapped memory, the process dies with SIGSEGV in a
///   `memcpy` inside `Process.run()` (swift-corelibs-foundation pull request
///   5472). The test process peaks at ~1,540 descriptors: two full suites
///   crashed that way.
/// - It learns of an exit through a socket the child inherits, so a child whose
///   socket another process holds is never reported (`ChildExit`).
///
/// Here the child's descriptors other than 0–2 are closed by
/// `posix_spawn_file_actions_addclosefrom_np` (glibc ≥ 2.34, found with `dlsym`:
/// Swift's Glibc module leaves GNU extensions out; older glibc gets one close
/// per entry of /proc/self/fd, read without the over-read: there, a descriptor
/// another thread opens without close-on-exec between that read and the spawn
/// is inherited, a window closefrom does not have), stdin is
/// /dev/null, stdout and stderr go where the caller says, the child gets its
/// own process group and an empty signal mask, and `exit(of:)` reaps it on a
/// thread of its own.
public enum ChildSpawn {
    /// Where a child's stdout or stderr goes.
    public enum Output: Sendable {
        /// /dev/null.
        case discard
        /// This process's own (stdout or stderr).
        case inherit
        /// A file, created or truncated.
        case file(String)
        /// A new pipe; `Spawned` holds its read end.
        case pipe
    }

    /// A started child: its pid and the read ends of the pipes asked for (the
    /// caller closes them).
    public struct Spawned: Sendable {
        public let pid: Int32
        public let stdout: Int32?
        public let stderr: Int32?
    }

    public struct SpawnError: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// Starts `executable` (a path) with `arguments`, and `environment` as its whole
    /// environment (nil: this process's). Spawns hold `ChildExit.spawning`, as
    /// every spawner of a Metro process does.
    public static func spawn(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil,
        stdout: Output = .discard, stderr: Output = .discard
    ) throws(SpawnError) -> Spawned {
        try spawn(executable, arguments, environment: environment, stdout: stdout, stderr: stderr, scanning: false)
    }

    /// `scanning`: close by the scan of /proc/self/fd even where glibc has closefrom (tests).
    package static func spawn(
        _ executable: String, _ arguments: [String], environment: [String: String]?, stdout: Output, stderr: Output,
        scanning: Bool
    ) throws(SpawnError) -> Spawned {
        try ChildExit.spawning.withLock { _ throws(SpawnError) in
            try spawnLocked(
                executable, arguments, environment: environment, stdout: stdout, stderr: stderr, scanning: scanning)
        }
    }

    private static func spawnLocked(
        _ executable: String, _ arguments: [String], environment: [String: String]?, stdout: Output, stderr: Output,
        scanning: Bool
    ) throws(SpawnError) -> Spawned {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK))

        // Parent's ends of the pipes (returned) and the child's (closed after the spawn).
        var readEnds: [Int32: Int32] = [:]
        var childEnds: [Int32] = []
        var failed = false
        defer { for fd in childEnds { close(fd) } }
        func cleanUpReadEnds() { for fd in readEnds.values { close(fd) } }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        for (target, output) in [(Int32(1), stdout), (Int32(2), stderr)] {
            switch output {
            case .discard:
                posix_spawn_file_actions_addopen(&actions, target, "/dev/null", O_WRONLY, 0)
            case .inherit:
                break
            case .file(let path):
                posix_spawn_file_actions_addopen(&actions, target, path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            case .pipe:
                // Close-on-exec at once: every spawner holds `ChildExit.spawning`, so no
                // child starts between `pipe` and `fcntl`.
                var ends: [Int32] = [-1, -1]
                guard pipe(&ends) == 0 else {
                    failed = true
                    break
                }
                _ = fcntl(ends[0], F_SETFD, FD_CLOEXEC)
                _ = fcntl(ends[1], F_SETFD, FD_CLOEXEC)
                readEnds[target] = ends[0]
                childEnds.append(ends[1])
                posix_spawn_file_actions_adddup2(&actions, ends[1], target)
            }
        }
        if failed {
            cleanUpReadEnds()
            throw SpawnError(description: "cannot make a pipe for \(executable): \(String(cString: strerror(errno)))")
        }
        closeInheritedDescriptors(&actions, scanning: scanning)

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        let pairs = (environment ?? ProcessInfo.processInfo.environment).map { strdup("\($0.key)=\($0.value)") }
        let envp = pairs + [nil]
        defer { for p in pairs { free(p) } }
        var pid: pid_t = 0
        let error = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard error == 0 else {
            cleanUpReadEnds()
            throw SpawnError(description: "cannot run \(executable): \(String(cString: strerror(error)))")
        }
        return Spawned(pid: pid, stdout: readEnds[1], stderr: readEnds[2])
    }

    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32

    /// glibc's `posix_spawn_file_actions_addclosefrom_np`, when it has one.
    private static let addCloseFrom: AddCloseFrom? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np")
        else { return nil }
        return unsafeBitCast(symbol, to: AddCloseFrom.self)
    }()

    /// Makes the child close every descriptor from 3 up.
    private static func closeInheritedDescriptors(_ actions: inout posix_spawn_file_actions_t, scanning: Bool) {
        if !scanning, let addCloseFrom, addCloseFrom(&actions, 3) == 0 { return }
        guard let folder = opendir("/proc/self/fd") else { return }
        defer { closedir(folder) }
        let own = dirfd(folder)
        let nameOffset = MemoryLayout<dirent>.offset(of: \dirent.d_name)!
        while let entry = readdir(folder) {
            // The name as a C string where it lies: never a copy of the whole field.
            let name = String(cString: (UnsafeRawPointer(entry) + nameOffset).assumingMemoryBound(to: CChar.self))
            if let fd = Int32(name), fd >= 3, fd != own { posix_spawn_file_actions_addclose(&actions, fd) }
        }
    }

    /// Waits for `pid` to exit and reaps it, blocking a thread of its own (not the
    /// caller's). `beforeReap` runs once the child is dead and before its pid is
    /// freed, so a `kill` that checks what it recorded never reaches a reused pid.
    /// Only for children this process spawned and nobody else reaps.
    public static func exit(
        of pid: Int32, beforeReap: @escaping @Sendable (ChildExit.Status) -> Void = { _ in }
    ) async -> ChildExit.Status {
        await withCheckedContinuation { continuation in
            let thread = Thread {
                continuation.resume(returning: waitAndReap(pid, beforeReap: beforeReap))
            }
            thread.name = "metro-child-wait"
            thread.start()
        }
    }

    /// `exit(of:)` on the calling thread.
    public static func waitAndReap(
        _ pid: Int32, beforeReap: (ChildExit.Status) -> Void = { _ in }
    ) -> ChildExit.Status {
        var info = siginfo_t()
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) != 0 {
            if errno != EINTR { return ChildExit.Status(code: -1, exited: false) }
        }
        let status = ChildExit.Status(code: info._sifields._sigchld.si_status, exited: info.si_code == CLD_EXITED)
        beforeReap(status)
        var reaped = siginfo_t()
        while waitid(P_PID, id_t(pid), &reaped, WEXITED) != 0 && errno == EINTR {}
        return status
    }
}
