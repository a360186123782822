internal import CZeroMQ

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Bytes to fill in place and then send as one frame without copying them.
///
/// `Message(count:)` makes libzmq allocate the frame, but its size is fixed before
/// it is filled; a writer that only learns how many bytes it has once it has
/// written them (a journal read cut at the last whole record) would have to copy
/// into a second frame of the right size. A `FrameBuffer` is plain `malloc`ed
/// memory of a `capacity`: fill any prefix of it, then `message(count:)` hands
/// that prefix to libzmq (`zmq_msg_init_data`), which frees the memory with
/// `free` once the frame has gone out, on its I/O thread.
///
/// `~Copyable`: the buffer has one owner, then the message does. A buffer never
/// turned into a message is freed by `deinit`.
public struct FrameBuffer: ~Copyable {
    /// The bytes it holds room for.
    public let capacity: Int
    private let base: UnsafeMutableRawPointer

    /// A buffer of `capacity` uninitialised bytes.
    public init(capacity: Int) {
        guard let p = malloc(max(capacity, 1)) else { fatalError("malloc(\(capacity)) failed: out of memory") }
        base = p
        self.capacity = capacity
    }

    deinit { free(base) }

    /// All `capacity` bytes, to write into. Valid while the buffer is owned.
    public var bytes: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(start: base, count: capacity) }

    /// The first `count` bytes as a frame, without a copy; the buffer is consumed.
    /// A buffer less than half full is shrunk to `count` first (`realloc`, in
    /// place): a frame waiting in a slow peer's queue must not hold the whole
    /// capacity (a replay at the live tail sends one small frame per turn, and
    /// thousands of them may wait within the peer's credit).
    public consuming func message(count: Int) -> Message {
        precondition(count >= 0 && count <= capacity, "a frame of \(count) bytes from a buffer of \(capacity)")
        var p = base
        if count < capacity / 2, let shrunk = realloc(base, max(count, 1)) { p = shrunk }
        discard self
        return Message(adopting: p, count: count)
    }
}

/// Frees a `FrameBuffer`'s memory once libzmq is done with the frame.
private func freeFrameBuffer(_ data: UnsafeMutableRawPointer?, _ hint: UnsafeMutableRawPointer?) {
    free(data)
}

extension Message {
    /// A message over `malloc`ed memory that libzmq frees when it is done (`FrameBuffer`).
    init(adopting data: UnsafeMutableRawPointer, count: Int) {
        self.init(uninitialised: ())
        let rc = zmq_msg_init_data(pointer, data, count, freeFrameBuffer, nil)
        precondition(rc == 0, "zmq_msg_init_data failed: out of memory")
    }
}
