#if canImport(Glibc)
    import Glibc
#endif

/// A non-blocking pipe that lets async callers wake a client's I/O thread (publisher,
/// subscriber, consumer, registry client), which
/// polls `readFD` next to its sockets (`Poller.add(fileDescriptor:)`).
final class WakePipe: @unchecked Sendable {
    let readFD: Int32
    private let writeFD: Int32

    init() {
        var fds: [Int32] = [0, 0]
        precondition(pipe(&fds) == 0, "pipe failed")
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
    func wake() {
        var one: UInt8 = 1
        _ = write(writeFD, &one, 1)
    }

    /// I/O thread: empties the pipe.
    func drain() {
        var sink = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        while withUnsafeMutableBytes(of: &sink, { read(readFD, $0.baseAddress, $0.count) }) > 0 {}
    }
}
