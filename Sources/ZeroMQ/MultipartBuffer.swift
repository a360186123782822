internal import CZeroMQ

#if canImport(Glibc)
    import Glibc
#endif

/// A reusable set of frame slots for receiving and forwarding whole multipart
/// messages without allocating: a broker loop receives a message into the slots,
/// reads frames in place, and sends chosen slots on (zero-copy), message after
/// message, with the same buffer.
///
/// Owned by the thread that owns the sockets it is used with. The `zmq_msg_t`s
/// live in one heap allocation (see `Message` for why never in a Swift local).
/// A slot whose send succeeded is left empty; every slot is released by the next
/// receive or by `deinit`.
package final class MultipartBuffer {
    let slots: UnsafeMutablePointer<zmq_msg_t>
    /// How many frames a received message may keep; extra frames are discarded.
    package let capacity: Int
    // The two counters are read and written for every frame the broker moves.
    // `@exclusivity(unchecked)` drops the run-time exclusivity check on them only
    // (a buffer belongs to one thread, and no method hands out an `inout` to
    // them), which the ZeroMQ target used to get from the unsafe flag
    // `-enforce-exclusivity=unchecked` for the whole module: SwiftPM refuses a
    // package whose library products contain unsafe flags as a versioned
    // dependency.

    /// Frames held from the last receive (at most `capacity`).
    @exclusivity(unchecked) package private(set) var count = 0
    /// Frames of the last received message that did not fit and were discarded.
    @exclusivity(unchecked) package private(set) var discardedFrames = 0

    /// `capacity` receive slots plus `scratch` extra slots for frames the owner builds
    /// (`set(_:bytes:)`), addressed as `capacity ..< capacity + scratch`.
    package init(capacity: Int, scratch: Int = 0) {
        precondition(capacity > 0 && scratch >= 0)
        self.capacity = capacity
        slots = .allocate(capacity: capacity + scratch)
        for i in 0..<(capacity + scratch) { zmq_msg_init(slots + i) }
        total = capacity + scratch
    }

    private let total: Int

    deinit {
        for i in 0..<total { zmq_msg_close(slots + i) }
        slots.deallocate()
    }

    /// Receives one whole message without blocking; `false` if none is waiting.
    /// The previous content of the receive slots is released.
    package func receive(from socket: Socket) throws(ZMQError) -> Bool {
        let h = socket.h
        let first = slots
        switch try Syscall.call("receive", { zmq_msg_recv(first, h, ZMQ_DONTWAIT) }) {
        case .wouldBlock: return false
        case .ok: break
        }
        count = 1
        discardedFrames = 0
        var more = zmq_msg_more(first) != 0
        while more {
            if count < capacity {
                let p = slots + count
                _ = try Syscall.call("receive", { zmq_msg_recv(p, h, 0) })
                count += 1
                more = zmq_msg_more(p) != 0
            } else {
                var spare = zmq_msg_t()
                zmq_msg_init(&spare)
                _ = try Syscall.call("receive", { zmq_msg_recv(&spare, h, 0) })
                more = zmq_msg_more(&spare) != 0
                zmq_msg_close(&spare)
                discardedFrames += 1
            }
        }
        return true
    }

    /// A metadata property (`Message.metadata`) of the connection frame `index`
    /// of the last received message came in on: `"User-Id"` names the ZAP identity.
    package func metadata(_ property: String, frame index: Int) -> String? {
        precondition(index < count, "frame \(index) of a \(count)-frame message")
        guard let value = zmq_msg_gets(slots + index, property) else { return nil }
        return String(cString: value)
    }

    /// The bytes of metadata `property` of frame `index`'s connection, in place
    /// (nil if it has none), without building a `String`: the broker reads
    /// `"User-Id"` once per message to check permissions (protocol.md §7.8).
    /// libzmq owns the bytes; they are valid only inside `body`.
    @inline(__always)
    package func withMetadata<R>(
        _ property: StaticString, frame index: Int, _ body: (UnsafeRawBufferPointer?) -> R
    ) -> R {
        let value = property.utf8Start.withMemoryRebound(to: CChar.self, capacity: property.utf8CodeUnitCount + 1) {
            zmq_msg_gets(slots + index, $0)
        }
        guard let value else { return body(nil) }
        return body(UnsafeRawBufferPointer(start: value, count: strlen(value)))
    }

    /// The descriptor of the connection frame `index` came in on (`ZMQ_SRCFD`), or
    /// nil (a frame built here, or a transport without one). libzmq deprecates the
    /// option but 4.3 keeps it, and the socket monitor names connections by the same
    /// descriptor (`MonitorEvent.value`): the only way, without the draft API, to
    /// tell which connection a disconnection event is about. Descriptors are reused
    /// once a connection is closed. libzmq 4.3.4 gives none for the routing-id
    /// frame a ROUTER prepends (it is made up, not received): ask a later frame.
    package func sourceDescriptor(_ index: Int) -> Int32? {
        let fd = zmq_msg_get(slots + index, ZMQ_SRCFD)
        return fd >= 0 ? fd : nil
    }

    /// The size of frame `index`.
    @inline(__always)
    package func size(_ index: Int) -> Int { zmq_msg_size(slots + index) }

    /// Reads frame `index` in place; the pointer is valid only inside `body`.
    @inline(__always)
    package func withFrame<R>(_ index: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        body(UnsafeRawBufferPointer(start: zmq_msg_data(slots + index), count: zmq_msg_size(slots + index)))
    }

    /// Frame `index`'s bytes in place, without a closure. The pointer stays valid
    /// only until slot `index` is next received into, set, sent, or the buffer is
    /// released: use it at once (the broker copies it into the journal buffer).
    @inline(__always)
    package func unsafeFrame(_ index: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: zmq_msg_data(slots + index), count: zmq_msg_size(slots + index))
    }

    /// A copy of frame `index`.
    package func bytes(_ index: Int) -> [UInt8] { withFrame(index) { [UInt8]($0) } }

    /// Makes slot `index` hold a copy of `bytes` (frames up to 33 bytes need no heap).
    @inline(__always)
    package func set(_ index: Int, bytes: UnsafeRawBufferPointer) {
        let p = slots + index
        zmq_msg_close(p)
        let rc = zmq_msg_init_size(p, bytes.count)
        precondition(rc == 0, "zmq_msg_init_size(\(bytes.count)) failed: out of memory")
        if bytes.count > 0 { zmq_msg_data(p).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count) }
    }

    /// Makes slot `index` a frame of `count` bytes written in place by `fill`.
    @inline(__always)
    package func set(_ index: Int, count: Int, _ fill: (UnsafeMutableRawBufferPointer) -> Void) {
        let p = slots + index
        zmq_msg_close(p)
        let rc = zmq_msg_init_size(p, count)
        precondition(rc == 0, "zmq_msg_init_size(\(count)) failed: out of memory")
        fill(UnsafeMutableRawBufferPointer(start: zmq_msg_data(p), count: count))
    }

    package func set(_ index: Int, bytes: [UInt8]) { bytes.withUnsafeBytes { set(index, bytes: $0) } }

    /// Makes slot `index` hold the 8 big-endian bytes of `value`.
    @inline(__always)
    package func set(_ index: Int, bigEndian value: UInt64) {
        withUnsafeBytes(of: value.bigEndian) { set(index, bytes: $0) }
    }

    /// Makes slot `index` an empty frame.
    @inline(__always)
    package func setEmpty(_ index: Int) {
        let p = slots + index
        zmq_msg_close(p)
        zmq_msg_init(p)
    }

    /// Makes slot `to` share slot `from`'s content (zero-copy, reference counted).
    package func share(_ from: Int, into to: Int) {
        let rc = zmq_msg_copy(slots + to, slots + from)
        precondition(rc == 0, "zmq_msg_copy failed")
    }

    /// Sends slot `index` as one frame without blocking (`more`: frames follow).
    /// `true` if queued (the slot is then empty); `false` if it could not be queued
    /// now (high-water mark, or an unroutable ROUTER peer with ROUTER_MANDATORY gives
    /// `.hostUnreachable`). Once the first frame of a message is queued, the rest
    /// of the message is always accepted.
    @inline(__always)
    package func send(_ index: Int, on socket: Socket, more: Bool) throws(ZMQError) -> Bool {
        let h = socket.h
        let p = slots + index
        let flags = ZMQ_DONTWAIT | (more ? ZMQ_SNDMORE : 0)
        switch try Syscall.call("send", { zmq_msg_send(p, h, flags) }) {
        case .ok: return true
        case .wouldBlock: return false
        }
    }
}
