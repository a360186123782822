internal import CZeroMQ

#if canImport(Glibc)
    import Glibc
#endif

/// A poller for one thread's loop over sockets it owns and plain descriptors,
/// which asks libzmq for a socket's `ZMQ_EVENTS` only when it must: when the
/// socket's `ZMQ_FD` fired, or when the loop used the socket since the last ask.
///
/// Why: `zmq_poll` asks every socket of its set for `ZMQ_EVENTS` before it
/// sleeps and again after it wakes, and each ask costs two system calls
/// (libzmq's fork check, `getpid`, and a `poll` of the socket's mailbox). The
/// broker's loop polls four sockets and wakes twice per acknowledged publish at
/// window 1 (the request, then the fsync's wake): ~22 `getpid` and ~24 `poll`
/// per event (strace, docs/performance.md "Acknowledged publish at window 1").
///
/// Why it is safe: `ZMQ_FD` is edge-triggered. It becomes readable when commands
/// reach the socket's mailbox, and any call on the socket (a send, a receive, an
/// `events` ask) may process them and make it unreadable again while messages
/// wait. So a socket's readiness is known from its last `events` ask for as
/// long as nothing else used it (`Socket.uses` has not moved) and its descriptor
/// did not fire; otherwise it is asked again, before the loop sleeps.
///
/// Owned by the thread that owns its sockets, like `Poller`. Readable only: the
/// broker's loop needs nothing else.
public final class LoopPoller {
    private struct Watched {
        let socket: Socket?
        /// `socket.uses` right after the last `events` ask.
        var checkedUses: UInt64 = 0
        /// Whether the last `events` ask said readable.
        var readable = false
        /// Never asked yet: ask before the first sleep.
        var fresh = true
    }

    private var watched: [Watched] = []
    private var fds: [pollfd] = []
    private var ready: [Bool] = []

    public init() {}

    /// Polls `socket` for readability; returns the item's index.
    @discardableResult
    public func add(_ socket: Socket) throws(ZMQError) -> Int {
        fds.append(pollfd(fd: try socket.fileDescriptor, events: Int16(POLLIN), revents: 0))
        watched.append(Watched(socket: socket))
        ready.append(false)
        return fds.count - 1
    }

    /// Polls a plain descriptor (a pipe, an eventfd) for readability; returns the index.
    @discardableResult
    public func add(fileDescriptor fd: Int32) -> Int {
        fds.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0))
        watched.append(Watched(socket: nil))
        ready.append(false)
        return fds.count - 1
    }

    /// Waits up to `timeoutMilliseconds` (-1: forever, 0: just look) until an item
    /// is readable; returns how many are. A signal ends the wait early with 0.
    @discardableResult
    public func poll(timeoutMilliseconds: Int) throws(ZMQError) -> Int {
        var count = 0
        // Sockets the loop used since their last ask, or with messages left.
        for i in watched.indices {
            ready[i] = false
            guard let socket = watched[i].socket else { continue }
            if watched[i].fresh || socket.uses != watched[i].checkedUses { try ask(i) }
            if watched[i].readable {
                ready[i] = true
                count += 1
            }
        }
        var timeout = count > 0 ? 0 : Int32(clamping: timeoutMilliseconds)
        var deadline: timespec? = nil
        if timeout > 0 { deadline = Self.after(milliseconds: Int(timeout)) }
        while true {
            let rc = fds.withUnsafeMutableBufferPointer { Glibc.poll($0.baseAddress, nfds_t($0.count), timeout) }
            if rc < 0 {
                let e = errno
                if e == EINTR { return count }
                throw ZMQError(errno: e, operation: "poll")
            }
            for i in fds.indices where fds[i].revents != 0 {
                if watched[i].socket != nil {
                    try ask(i)
                    if watched[i].readable && !ready[i] {
                        ready[i] = true
                        count += 1
                    }
                } else if !ready[i] {
                    ready[i] = true
                    count += 1
                }
            }
            // A socket's descriptor also fires for commands that bring no message.
            if count > 0 || timeout == 0 { return count }
            if let deadline {
                timeout = Self.millisecondsUntil(deadline)
                if timeout == 0 { return 0 }
            }
        }
    }

    /// Whether item `index` was readable in the last `poll`: drain it with non-blocking receives.
    public func isReadable(_ index: Int) -> Bool { ready[index] }

    private func ask(_ i: Int) throws(ZMQError) {
        let socket = watched[i].socket!
        watched[i].readable = try socket.events.contains(.readable)
        watched[i].checkedUses = socket.uses
        watched[i].fresh = false
    }

    private static func after(milliseconds: Int) -> timespec {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        let ns = t.tv_nsec + milliseconds % 1000 * 1_000_000
        return timespec(tv_sec: t.tv_sec + milliseconds / 1000 + ns / 1_000_000_000, tv_nsec: ns % 1_000_000_000)
    }

    /// Whole milliseconds left until `deadline` (rounded up), 0 once it has passed.
    private static func millisecondsUntil(_ deadline: timespec) -> Int32 {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        let ns = (deadline.tv_sec - t.tv_sec) * 1_000_000_000 + (deadline.tv_nsec - t.tv_nsec)
        return ns <= 0 ? 0 : Int32(clamping: (ns + 999_999) / 1_000_000)
    }
}
