internal import CZeroMQ

/// A ZeroMQ socket, owned by the one thread that uses it (see `Context`).
///
/// Sends come in two kinds: `send` blocks (up to the send timeout, if one is set)
/// and throws `.wouldBlock` if it could not send; `trySend` never blocks and
/// returns `false` when the message could not be queued. Receives return `nil`
/// when nothing arrived (non-blocking call, or the receive timeout ran out).
/// `deinit` closes the socket; `close()` does it earlier.
public final class Socket {
    /// Kept so the context outlives its sockets (see `Context`).
    public let context: Context
    /// The pattern the socket was made with; fixed for its life.
    public let type: SocketType
    // One owning thread reads this on every call; the dynamic exclusivity check that a
    // class `var` gets would run per message (measured: metro-bench wrapper).
    @exclusivity(unchecked) private(set) var handle: UnsafeMutableRawPointer?

    init(context: Context, type: SocketType) throws(ZMQError) {
        guard let h = zmq_socket(context.handle, type.raw) else {
            throw ZMQError(errno: zmq_errno(), operation: "zmq_socket \(type)")
        }
        self.context = context
        self.type = type
        self.handle = h
        try set(.linger(milliseconds: Int(context.defaultLinger)))
    }

    deinit { close() }

    /// Closes the socket now. Pending outgoing messages get the socket's linger.
    public func close() {
        guard let h = handle else { return }
        handle = nil
        zmq_close(h)
    }

    /// Whether `close()` has run; any other call on a closed socket traps (a bug, not an error).
    public var isClosed: Bool { handle == nil }

    /// How many times the socket was used (every libzmq call goes through `h`):
    /// any call may process the socket's commands and so consume the readiness of
    /// its `fileDescriptor`, which `LoopPoller` must then not trust until it has
    /// asked for `events` again.
    @exclusivity(unchecked) private(set) var uses: UInt64 = 0

    @inline(__always)
    var h: UnsafeMutableRawPointer {
        guard let h = handle else { preconditionFailure("use of a closed \(type) socket") }
        uses &+= 1
        return h
    }

    // MARK: Endpoints

    /// Binds to `endpoint` (`tcp://127.0.0.1:*` picks a free port: read `lastEndpoint`).
    public func bind(_ endpoint: String) throws(ZMQError) {
        try Syscall.mustSucceed("bind \(endpoint)") { zmq_bind(h, endpoint) }
    }

    /// Binds and returns the endpoint actually bound (the ephemeral port resolved).
    public func bindResolved(_ endpoint: String) throws(ZMQError) -> String {
        try bind(endpoint)
        return try lastEndpoint
    }

    /// Connects to `endpoint` (`tcp://host:port`, `ipc://path`, `inproc://name`). Returns at once:
    /// libzmq connects, and reconnects after a loss, in the background.
    public func connect(_ endpoint: String) throws(ZMQError) {
        try Syscall.mustSucceed("connect \(endpoint)") { zmq_connect(h, endpoint) }
    }

    /// Stops listening on `endpoint` (as bound, or as `lastEndpoint` resolved it); peers already
    /// connected stay.
    public func unbind(_ endpoint: String) throws(ZMQError) {
        try Syscall.mustSucceed("unbind \(endpoint)") { zmq_unbind(h, endpoint) }
    }

    /// Drops the connection made by `connect(endpoint)`; messages queued for it are discarded.
    public func disconnect(_ endpoint: String) throws(ZMQError) {
        try Syscall.mustSucceed("disconnect \(endpoint)") { zmq_disconnect(h, endpoint) }
    }

    /// The last endpoint bound or connected, resolved (`ZMQ_LAST_ENDPOINT`).
    public var lastEndpoint: String {
        get throws(ZMQError) {
            var buffer = [CChar](repeating: 0, count: 1024)
            var size = buffer.count
            try Syscall.mustSucceed("get last endpoint") { zmq_getsockopt(h, ZMQ_LAST_ENDPOINT, &buffer, &size) }
            return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        }
    }

    // MARK: Zero-copy frames

    /// Sends `message` as one frame. On success the content now belongs to libzmq and
    /// `message` is left empty and reusable; on failure it keeps its content.
    /// Throws `.wouldBlock` if a send timeout ran out.
    public func send(_ message: inout Message, flags: SendFlags = []) throws(ZMQError) {
        guard try sendOnce(&message, flags) else { throw ZMQError(errno: EAGAIN, operation: "send") }
    }

    /// Queues `message` without blocking; `false` if it could not be queued now
    /// (high-water mark reached, or no peer), and then `message` keeps its content.
    public func trySend(_ message: inout Message, flags: SendFlags = []) throws(ZMQError) -> Bool {
        try sendOnce(&message, flags.union(.dontWait))
    }

    @inline(__always)
    private func sendOnce(_ message: inout Message, _ flags: SendFlags) throws(ZMQError) -> Bool {
        let p = message.pointer
        switch try Syscall.call("send", { zmq_msg_send(p, h, flags.rawValue) }) {
        case .ok: return true
        case .wouldBlock: return false
        }
    }

    /// Receives one frame into `message` (whose old content is released).
    /// Returns `false` if nothing arrived (non-blocking, or the receive timeout ran out).
    public func receive(into message: inout Message, dontWait: Bool = false) throws(ZMQError) -> Bool {
        let p = message.pointer
        switch try Syscall.call("receive", { zmq_msg_recv(p, h, dontWait ? ZMQ_DONTWAIT : 0) }) {
        case .ok: return true
        case .wouldBlock: return false
        }
    }

    /// Receives one frame as a new `Message`, or nil if nothing arrived.
    public func receiveMessage(dontWait: Bool = false) throws(ZMQError) -> Message? {
        var message = Message()
        guard try receive(into: &message, dontWait: dontWait) else { return nil }
        return message
    }

    // MARK: Bytes

    /// Sends `bytes` as one frame (copied). Throws `.wouldBlock` if a send timeout ran out.
    public func send(_ bytes: [UInt8], flags: SendFlags = []) throws(ZMQError) {
        guard try sendBytes(bytes, flags) else { throw ZMQError(errno: EAGAIN, operation: "send") }
    }

    /// Sends the UTF-8 bytes of `string` as one frame.
    public func send(_ string: String, flags: SendFlags = []) throws(ZMQError) {
        var m = Message(string: string)
        try send(&m, flags: flags)
    }

    /// Queues `bytes` as one frame without blocking; `false` if it could not.
    public func trySend(_ bytes: [UInt8], flags: SendFlags = []) throws(ZMQError) -> Bool {
        try sendBytes(bytes, flags.union(.dontWait))
    }

    /// Sends the bytes as one frame (copied); for hot paths that have them in a
    /// buffer already. Throws `.wouldBlock` if a send timeout ran out.
    public func send(_ bytes: UnsafeRawBufferPointer, flags: SendFlags = []) throws(ZMQError) {
        guard try sendRaw(bytes, flags) else { throw ZMQError(errno: EAGAIN, operation: "send") }
    }

    /// Queues the bytes as one frame (copied) without blocking; `false` if it could not.
    public func trySend(_ bytes: UnsafeRawBufferPointer, flags: SendFlags = []) throws(ZMQError) -> Bool {
        try sendRaw(bytes, flags.union(.dontWait))
    }

    @inline(__always)
    private func sendBytes(_ bytes: [UInt8], _ flags: SendFlags) throws(ZMQError) -> Bool {
        let socket = h
        let outcome = try Syscall.call("send") {
            bytes.withUnsafeBytes { zmq_send(socket, $0.baseAddress, $0.count, flags.rawValue) }
        }
        switch outcome {
        case .ok: return true
        case .wouldBlock: return false
        }
    }

    /// `zmq_send` copies the bytes into a new frame inside libzmq: no `Message` allocation.
    @inline(__always)
    private func sendRaw(_ bytes: UnsafeRawBufferPointer, _ flags: SendFlags) throws(ZMQError) -> Bool {
        let socket = h
        let outcome = try Syscall.call("send") {
            zmq_send(socket, bytes.baseAddress, bytes.count, flags.rawValue)
        }
        switch outcome {
        case .ok: return true
        case .wouldBlock: return false
        }
    }

    /// Sends `frames` as one multipart message. Throws `.wouldBlock` if the send
    /// timeout ran out before the first frame; later frames of a message never block.
    public func send(multipart frames: [[UInt8]]) throws(ZMQError) {
        precondition(!frames.isEmpty, "a ZeroMQ message has at least one frame")
        for (i, frame) in frames.enumerated() {
            try send(frame, flags: i == frames.count - 1 ? [] : .more)
        }
    }

    /// Queues `frames` as one multipart message without blocking; `false` if the
    /// first frame could not be queued (then nothing was sent).
    public func trySend(multipart frames: [[UInt8]]) throws(ZMQError) -> Bool {
        precondition(!frames.isEmpty, "a ZeroMQ message has at least one frame")
        guard try trySend(frames[0], flags: frames.count > 1 ? .more : []) else { return false }
        // Once the first frame is queued the rest of the message is accepted atomically.
        for i in 1..<frames.count {
            try send(frames[i], flags: i == frames.count - 1 ? [] : .more)
        }
        return true
    }

    /// Queues `head` and then `last` as one multipart message without blocking;
    /// `false` if the first frame could not be queued (then nothing was sent and
    /// `last` keeps its content). `last` goes without a copy (a `FrameBuffer`'s
    /// message, a received frame): a large body after a few small header frames.
    public func trySend(multipart head: [[UInt8]], last: inout Message) throws(ZMQError) -> Bool {
        precondition(!head.isEmpty, "use trySend(_:) for a message of one frame")
        guard try trySend(head[0], flags: .more) else { return false }
        for i in 1..<head.count { try send(head[i], flags: .more) }
        try send(&last)
        return true
    }

    /// Receives one frame as bytes, or nil if nothing arrived.
    public func receive(dontWait: Bool = false) throws(ZMQError) -> [UInt8]? {
        try receiveMessage(dontWait: dontWait)?.bytes
    }

    /// Receives a whole multipart message, or nil if nothing arrived. Frames after
    /// the first are already here (ZeroMQ delivers messages atomically).
    public func receiveMultipart(dontWait: Bool = false) throws(ZMQError) -> [[UInt8]]? {
        var message = Message()
        guard try receive(into: &message, dontWait: dontWait) else { return nil }
        var frames = [message.bytes]
        while message.hasMore {
            guard try receive(into: &message) else { break }
            frames.append(message.bytes)
        }
        return frames
    }

    /// `receiveMultipart`, with the metadata `property` of the connection the
    /// message came in on (`Message.metadata`; `"User-Id"` names a ZAP identity).
    public func receiveMultipart(
        dontWait: Bool = false, metadata property: String
    ) throws(ZMQError) -> (frames: [[UInt8]], metadata: String?)? {
        var message = Message()
        guard try receive(into: &message, dontWait: dontWait) else { return nil }
        var frames = [message.bytes]
        var value = message.metadata(property)
        while message.hasMore {
            guard try receive(into: &message) else { break }
            frames.append(message.bytes)
            // ROUTER's routing-id frame is made up locally and has none; later frames do.
            if value == nil { value = message.metadata(property) }
        }
        return (frames, value)
    }

    /// Receives and discards the rest of a multipart message whose first frames the
    /// caller already read (so a malformed message never leaves frames behind).
    public func discardRemainingFrames() throws(ZMQError) {
        var message = Message()
        while try hasMoreFrames {
            guard try receive(into: &message) else { return }
        }
    }

    /// Whether the last frame received has more frames after it (`ZMQ_RCVMORE`).
    public var hasMoreFrames: Bool {
        get throws(ZMQError) { try intOption(ZMQ_RCVMORE, "get rcvmore") != 0 }
    }

    // MARK: Readiness

    /// The socket's file descriptor, which becomes readable when `events` may have changed
    /// (edge-triggered: always check `events` after waking).
    public var fileDescriptor: Int32 {
        get throws(ZMQError) {
            var fd: Int32 = -1
            var size = MemoryLayout<Int32>.size
            try Syscall.mustSucceed("get fd") { zmq_getsockopt(h, ZMQ_FD, &fd, &size) }
            return fd
        }
    }

    /// Whether a message can be received / sent right now without blocking (`ZMQ_EVENTS`).
    public var events: PollEvents {
        get throws(ZMQError) { PollEvents(rawValue: Int16(try intOption(ZMQ_EVENTS, "get events"))) }
    }

    func intOption(_ name: Int32, _ operation: String) throws(ZMQError) -> Int32 {
        var value: Int32 = 0
        var size = MemoryLayout<Int32>.size
        try Syscall.mustSucceed(operation) { zmq_getsockopt(h, name, &value, &size) }
        return value
    }
}
