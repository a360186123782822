internal import CZeroMQ

/// One ZeroMQ frame held as a libzmq message (`zmq_msg_t`), for zero-copy work.
///
/// `Message` is `~Copyable` because a `zmq_msg_t` is a handle: copying the struct
/// would copy the handle and lead to a double close. The `zmq_msg_t` lives in its
/// own heap allocation, never in a Swift local, because libzmq keeps messages of up
/// to 33 bytes inside the struct and a moved local would leave `data` dangling.
///
/// Ownership: the `Message` owns its frame until a send succeeds; then libzmq owns
/// the content and the `Message` is left empty (but still valid and reusable).
/// If a send fails the content stays here and is released by `deinit`. A broker
/// forwards a frame by receiving into one `Message` and sending the same one on,
/// without ever copying its bytes.
public struct Message: ~Copyable {
    let pointer: UnsafeMutablePointer<zmq_msg_t>

    /// The handle's memory, not yet initialised (for `init(adopting:count:)`).
    init(uninitialised: Void) {
        pointer = .allocate(capacity: 1)
    }

    /// An empty message, ready to receive into.
    public init() {
        pointer = .allocate(capacity: 1)
        zmq_msg_init(pointer)
    }

    /// A message holding a copy of `bytes`.
    public init(_ bytes: UnsafeRawBufferPointer) {
        pointer = .allocate(capacity: 1)
        Message.fill(pointer, with: bytes)
    }

    private static func fill(_ p: UnsafeMutablePointer<zmq_msg_t>, with bytes: UnsafeRawBufferPointer) {
        let rc = zmq_msg_init_size(p, bytes.count)
        precondition(rc == 0, "zmq_msg_init_size(\(bytes.count)) failed: out of memory")
        if bytes.count > 0 {
            zmq_msg_data(p).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        }
    }

    /// A message holding a copy of `bytes`.
    public init(bytes: [UInt8]) {
        pointer = .allocate(capacity: 1)
        let p = pointer
        bytes.withUnsafeBytes { Message.fill(p, with: $0) }
    }

    /// A message holding the UTF-8 bytes of `string`.
    public init(string: String) {
        pointer = .allocate(capacity: 1)
        let p = pointer
        var s = string
        s.withUTF8 { Message.fill(p, with: UnsafeRawBufferPointer($0)) }
    }

    deinit {
        zmq_msg_close(pointer)
        pointer.deallocate()
    }

    /// The frame's size in bytes.
    public var count: Int { zmq_msg_size(pointer) }

    /// Whether more frames of the same multipart message follow this one
    /// (valid after a receive).
    public var hasMore: Bool { zmq_msg_more(pointer) != 0 }

    /// Reads the frame's bytes in place. The pointer is valid only inside `body`.
    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeRawBufferPointer(start: zmq_msg_data(pointer), count: zmq_msg_size(pointer)))
    }

    /// Writes into the frame's bytes in place (for filling a message made with `init(count:)`).
    public mutating func withUnsafeMutableBytes<R, E: Error>(
        _ body: (UnsafeMutableRawBufferPointer) throws(E) -> R
    ) throws(E) -> R {
        try body(UnsafeMutableRawBufferPointer(start: zmq_msg_data(pointer), count: zmq_msg_size(pointer)))
    }

    /// A message of `count` uninitialised bytes, to be filled with `withUnsafeMutableBytes`.
    public init(count: Int) {
        pointer = .allocate(capacity: 1)
        let rc = zmq_msg_init_size(pointer, count)
        precondition(rc == 0, "zmq_msg_init_size(\(count)) failed: out of memory")
    }

    /// A copy of the frame's bytes.
    public var bytes: [UInt8] { withUnsafeBytes { [UInt8]($0) } }

    /// The frame's bytes decoded as UTF-8, or nil when they are not valid UTF-8.
    public var string: String? {
        withUnsafeBytes { String(validating: $0.bindMemory(to: UInt8.self), as: UTF8.self) }
    }

    /// A metadata property of the connection the frame came in on (`zmq_msg_gets`),
    /// valid after a receive: `"User-Id"` is the identity the ZAP handler named for
    /// the peer (`ZapReply.userID`), `"Peer-Address"` its IP address, and any
    /// property the ZAP reply's metadata added. nil for a frame built locally or a
    /// property the connection does not have.
    public func metadata(_ property: String) -> String? {
        guard let value = zmq_msg_gets(pointer, property) else { return nil }
        return String(cString: value)
    }

    /// Makes this message share `other`'s content without copying it (`zmq_msg_copy`:
    /// reference counted for large frames). Used to fan one frame out to several sends.
    public mutating func shareContent(of other: borrowing Message) {
        let rc = zmq_msg_copy(pointer, other.pointer)
        precondition(rc == 0, "zmq_msg_copy failed")
    }
}
