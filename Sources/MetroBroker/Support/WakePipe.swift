#if canImport(Glibc)
    import Glibc
#endif

/// A non-blocking, close-on-exec pipe that one thread writes a byte into to wake
/// another that polls its read end (`zmq_poll` takes plain descriptors next to
/// sockets). Used by the journal syncer (a batch is durable) and by `stop()`.
///
/// `wake` and `drain` never block: a full pipe already means "wake up", and
/// `drain` reads until the pipe is empty. Any thread may `wake`; the polling
/// thread drains. MetroKit has its own `WakePipe` for its I/O threads; a later
/// change may share one.
final class WakePipe: @unchecked Sendable {
    /// The end to poll for readability.
    let readFD: Int32
    private let writeFD: Int32

    init() {
        var fds: [Int32] = [0, 0]
        precondition(pipe(&fds) == 0, "pipe failed: \(errno)")
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

    /// Makes `readFD` readable. Any thread.
    func wake() {
        var one: UInt8 = 1
        _ = write(writeFD, &one, 1)
    }

    /// Empties the pipe. The polling thread, when `readFD` polled readable.
    func drain() {
        var sink = [UInt8](repeating: 0, count: 64)
        while read(readFD, &sink, sink.count) > 0 {}
    }
}
