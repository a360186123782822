#if canImport(Glibc)
    import Glibc
#endif

/// An exclusive claim on a broker's data folder (`broker.lock` in it), held for
/// as long as the broker runs, so that nothing else writes or replaces its
/// journal meanwhile.
///
/// Why: two brokers started on one folder (a second `metro broker --data-dir`
/// with other ports, a `metro up` started twice with one data folder) would
/// both append to the same segments: each recovers the same last seq and writes
/// over the other's records, which later read as damaged. And
/// `metro backup repair-journal` replaces damaged segment files, which only a
/// stopped broker may see happen (a running one keeps the old file mapped).
///
/// Design: `flock(LOCK_EX | LOCK_NB)` on a file that is never removed (removing
/// it would let a second claimant lock a new file of the same name). The kernel
/// drops the lock when the holder's descriptor closes, so a broker killed with
/// kill -9 leaves no stale claim behind (unlike a pid file). The holder writes
/// its pid into the file so that a refusal can name it; the pid is only for the
/// message, the lock alone decides. The descriptor is close-on-exec, so a
/// child does not inherit the claim.
package final class DataFolderLock {
    package static let fileName = "broker.lock"

    /// Another process holds the folder.
    package struct Held: Error, CustomStringConvertible {
        package let directory: String
        /// The holder's pid as it wrote it; nil if it has not yet.
        package let pid: Int32?
        package var description: String {
            "the data folder \(directory) is in use by another broker (\(pid.map { "pid \($0)" } ?? "pid unknown"))"
                + ": two brokers on one journal would write over each other's records"
        }
    }

    private var fd: Int32
    package let directory: String

    /// Claims `directory` (made if missing); throws `Held` if another process has
    /// it, a `JournalError` if the lock file cannot be opened.
    package init(directory: String) throws {
        self.directory = directory
        try FileIO.makeDirectory(directory)
        let path = directory + "/" + Self.fileName
        fd = try FileIO.open(path, flags: O_RDWR | O_CREAT, mode: 0o644)
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let e = errno
            if e == EINTR { continue }
            let holder = Self.holder(fd)
            Glibc.close(fd)
            if e == EWOULDBLOCK { throw Held(directory: directory, pid: holder) }
            throw JournalError(.open, operation: "flock", path: path, errno: e)
        }
        // The pid, for the next claimant's message; a failure here loses only that.
        let pid = Array("\(getpid())\n".utf8)
        if ftruncate(fd, 0) == 0 {
            try? FileIO.pwriteAll(fd, pid, at: 0, path: path)
        }
    }

    /// Gives the folder up (also when the process exits, however it exits).
    package func release() {
        guard fd >= 0 else { return }
        Glibc.close(fd)
        fd = -1
    }

    deinit { release() }

    private static func holder(_ fd: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 16)
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return nil }
        return Int32(String(decoding: buffer[0..<n], as: UTF8.self).trimmingNewlines)
    }
}

extension String {
    fileprivate var trimmingNewlines: Substring {
        var s = Substring(self)
        while s.last == "\n" || s.last == "\r" { s.removeLast() }
        return s
    }
}
