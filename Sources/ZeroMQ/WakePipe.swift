import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A non-blocking, close-on-exec pipe that lets any thread wake a poll loop: the loop
/// polls `readFD` next to its sockets (`Poller.add(fileDescriptor:)`, which libzmq's
/// `zmq_poll` accepts), another thread calls `wake()`.
///
/// The one copy of this set-up in Metro: MetroKit's I/O threads, the broker's loop
/// (its stop request) and its journal syncer all use it. Both ends stay open for the object's whole life,
/// so a late `wake()` from another thread never writes to a closed or reused fd.
///
/// Threading: `wake()` from any thread; `drain()` on the polling thread.
package final class WakePipe: Sendable {
    /// The end to poll for readability.
    package let readFD: Int32
    private let writeFD: Int32

    package init() {
        var fds: [Int32] = [0, 0]
        precondition(pipe(&fds) == 0, "pipe failed: out of file descriptors")
        for fd in fds {
            _ = fcntl(fd, F_SETFL, O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        readFD = fds[0]
        writeFD = fds[1]
    }

    deinit {
        close(readFD)
        close(writeFD)
    }

    /// Any thread. A full pipe already means "wake up", so a failed write is fine.
    package func wake() {
        var one: UInt8 = 1
        _ = write(writeFD, &one, 1)
    }

    /// The polling thread: empties the pipe, so the next poll waits again. Returns the
    /// bytes read (one per `wake()` that landed), for callers that count their wakes.
    @discardableResult
    package func drain() -> Int {
        var sink = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        var total = 0
        while true {
            let n = withUnsafeMutableBytes(of: &sink) { read(readFD, $0.baseAddress, $0.count) }
            guard n > 0 else { return total }
            total += n
            // A short read took all the pipe held: no second read to learn that it is
            // empty (one system call less per wake of the broker's loop).
            if n < MemoryLayout.size(ofValue: sink) { return total }
        }
    }
}
