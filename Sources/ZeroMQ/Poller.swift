internal import CZeroMQ

/// Readiness conditions for `Poller`.
public struct PollEvents: OptionSet, Sendable {
    /// The `ZMQ_POLL*` bits (`zmq_pollitem_t.events` is a C `short`).
    public let rawValue: Int16
    /// Conditions from raw `ZMQ_POLL*` bits.
    public init(rawValue: Int16) { self.rawValue = rawValue }

    /// A socket has a whole message to receive, or a file descriptor is readable (`ZMQ_POLLIN`).
    public static let readable = PollEvents(rawValue: Int16(ZMQ_POLLIN))
    /// A socket can send at least one message without blocking (`ZMQ_POLLOUT`).
    public static let writable = PollEvents(rawValue: Int16(ZMQ_POLLOUT))
    /// An error condition on a plain file descriptor (`ZMQ_POLLERR`); sockets never report it.
    public static let error = PollEvents(rawValue: Int16(ZMQ_POLLERR))
}

/// Waits on several sockets and plain file descriptors at once (`zmq_poll`).
///
/// Owned by the thread that owns its sockets. Items are identified by the index
/// `add` returns. A plain file descriptor (an eventfd or a pipe) lets another
/// thread wake a poll loop without a socket.
public final class Poller {
    private var items: [zmq_pollitem_t] = []
    private var sockets: [Socket?] = []  // keeps polled sockets alive

    /// An empty poller; add items with `add`, on the thread that will poll.
    public init() {}

    /// Polls `socket` for `events`; returns the item's index.
    @discardableResult
    public func add(_ socket: Socket, events: PollEvents = .readable) -> Int {
        items.append(zmq_pollitem_t(socket: socket.h, fd: 0, events: events.rawValue, revents: 0))
        sockets.append(socket)
        return items.count - 1
    }

    /// Polls a plain file descriptor for `events`; returns the item's index.
    @discardableResult
    public func add(fileDescriptor fd: Int32, events: PollEvents = .readable) -> Int {
        items.append(zmq_pollitem_t(socket: nil, fd: fd, events: events.rawValue, revents: 0))
        sockets.append(nil)
        return items.count - 1
    }

    /// Changes what item `index` waits for (e.g. add `.writable` only while output is pending).
    public func setEvents(_ events: PollEvents, at index: Int) {
        items[index].events = events.rawValue
    }

    /// Waits up to `timeoutMilliseconds` (-1: forever, 0: just look) and returns how many
    /// items are ready. A signal ends the wait early with 0, so loops can check a stop flag.
    @discardableResult
    public func poll(timeoutMilliseconds: Int) throws(ZMQError) -> Int {
        let count = items.count
        let timeout = timeoutMilliseconds
        let rc = items.withUnsafeMutableBufferPointer { zmq_poll($0.baseAddress, Int32(count), timeout) }
        if rc >= 0 { return Int(rc) }
        let e = zmq_errno()
        if e == EINTR { return 0 }
        throw ZMQError(errno: e, operation: "poll")
    }

    /// The conditions that item `index` met in the last `poll`.
    public func events(at index: Int) -> PollEvents { PollEvents(rawValue: items[index].revents) }

    /// Whether item `index` was readable in the last `poll`: drain it with non-blocking receives.
    public func isReadable(_ index: Int) -> Bool { events(at: index).contains(.readable) }
    /// Whether item `index` was writable in the last `poll`.
    public func isWritable(_ index: Int) -> Bool { events(at: index).contains(.writable) }
}
