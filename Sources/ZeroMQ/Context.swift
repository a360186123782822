internal import CZeroMQ

/// `ZeroMQ` is Metro's safe wrapper over libzmq 4.3; it is the only module that
/// imports `CZeroMQ`, and no C type appears in its public API.
///
/// ## Threading: a socket belongs to one thread
///
/// A `Context` is thread-safe (`Sendable`): share it freely. A `Socket` is **not**:
/// it is a non-`Sendable` class that one thread creates, uses and closes. The
/// usual shape is a dedicated thread that receives the `Context`, makes its
/// sockets, and runs a poll loop; other threads talk to it through inproc sockets
/// or queues, never by touching its sockets. Ownership may move exactly once, as
/// a whole, before use (libzmq allows migrating a socket with a full memory
/// barrier, which a thread start or a lock hand-off provides): pass the socket
/// as a `sending` value and never touch it again from the old thread.
///
/// ## Shutdown never hangs
///
/// Every socket gets a bounded linger (`Context.defaultLinger`, 1 s unless set),
/// so closing never waits forever for an absent peer. `shutdown()` makes every
/// blocking call in every thread return `ZMQError.Code.contextTerminated`, which
/// loops take as "close your socket and leave". A `Socket` keeps its `Context`
/// alive, so the context's `deinit` (which terminates it) runs only after all
/// its sockets are closed and therefore returns within the linger.
public final class Context: @unchecked Sendable {
    // libzmq contexts are thread-safe; the handle never changes after init.
    let handle: UnsafeMutableRawPointer

    /// The linger, in milliseconds, given to each new socket. libzmq's own default
    /// (-1, wait forever) is how programs hang at exit; Metro never uses it.
    public let defaultLinger: Int32

    /// Creates a context with `ioThreads` background I/O threads.
    public init(ioThreads: Int = 1, defaultLingerMilliseconds: Int = 1000) throws(ZMQError) {
        guard let h = zmq_ctx_new() else { throw ZMQError(errno: zmq_errno(), operation: "zmq_ctx_new") }
        handle = h
        defaultLinger = Int32(clamping: defaultLingerMilliseconds)
        try Syscall.mustSucceed("set io threads") { zmq_ctx_set(h, ZMQ_IO_THREADS, Int32(clamping: ioThreads)) }
        // Sockets per context: libzmq's default of 1023 is low for a broker.
        try Syscall.mustSucceed("set max sockets") { zmq_ctx_set(h, ZMQ_MAX_SOCKETS, 8192) }
    }

    /// Makes a new socket of `type`, owned by the calling thread.
    public func socket(_ type: SocketType) throws(ZMQError) -> Socket {
        try Socket(context: self, type: type)
    }

    /// Makes every blocking operation on this context's sockets, in any thread, fail
    /// with `.contextTerminated`, and every later one too. Safe from any thread.
    /// Sockets must still be closed by their owners; then the context ends.
    public func shutdown() {
        _ = zmq_ctx_shutdown(handle)
    }

    deinit {
        // All sockets hold a strong reference to the context, so by now they are
        // closed and zmq_ctx_term returns within their (bounded) linger.
        while zmq_ctx_term(handle) != 0 && zmq_errno() == EINTR {}
    }
}

/// The version of the libzmq library loaded at run time.
public struct LibraryVersion: Sendable, CustomStringConvertible, Comparable {
    /// The three parts of libzmq's version, as `zmq_version` reports them.
    public let major: Int, minor: Int, patch: Int

    /// The libzmq actually loaded (not the headers built against): what
    /// `metro doctor` reports, and what a feature check should compare with.
    public static var current: LibraryVersion {
        var a: Int32 = 0, b: Int32 = 0, c: Int32 = 0
        zmq_version(&a, &b, &c)
        return LibraryVersion(major: Int(a), minor: Int(b), patch: Int(c))
    }

    /// A version to compare `current` with, e.g. `LibraryVersion(major: 4, minor: 3, patch: 0)`.
    public init(major: Int, minor: Int, patch: Int) {
        self.major = major; self.minor = minor; self.patch = patch
    }

    /// `major.minor.patch`, as libzmq writes its own version.
    public var description: String { "\(major).\(minor).\(patch)" }

    /// Orders by major, then minor, then patch, so `current >= required` reads as expected.
    public static func < (l: LibraryVersion, r: LibraryVersion) -> Bool {
        (l.major, l.minor, l.patch) < (r.major, r.minor, r.patch)
    }
}

/// Which optional capabilities the loaded libzmq was built with (`zmq_has`).
public enum Capability: String, Sendable, CaseIterable {
    case curve, ipc, pgm, tipc, norm, gssapi, draft

    /// Whether the loaded libzmq has this capability (`zmq_has`); Debian's 4.3.4 has
    /// `curve` and `ipc` but not `draft`. Cheap; safe from any thread.
    public var isAvailable: Bool { zmq_has(rawValue) != 0 }
}
