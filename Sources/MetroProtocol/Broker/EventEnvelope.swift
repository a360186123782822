/// The middle frame of a live event (protocol.md §4.4): the broker's stamp and the
/// publisher's id and headers, packed in one frame so that an event is three
/// frames, `[topic][envelope][payload]`. Every frame costs a `zmq_msg_send` in the
/// broker and a receive in each subscriber; one envelope instead of four frames
/// is most of the broker's fan-out cost (measured in docs/performance.md).
///
/// ```
/// offset  size  field
///  0      8     seq: u64, big-endian
///  8      8     time: u64 ns since the Unix epoch, big-endian
/// 16      1     n: length of the event id (0...64; 0 for fire-and-forget)
/// 17      n     event id
/// 17+n    rest  headers (a JSON object, or empty)
/// ```
package enum EventEnvelope {
    package static let fixedBytes = 17

    package struct Fields: Equatable, Sendable {
        package var seq: UInt64
        package var time: UInt64
        package var eventID: [UInt8]
        package var headers: [UInt8]
    }

    /// The envelope's size for an id and headers of these lengths.
    @inline(__always)
    package static func size(idCount: Int, headersCount: Int) -> Int { fixedBytes + idCount + headersCount }

    /// Writes the envelope into `out`, which must be exactly `size(...)` bytes.
    /// The broker builds it in place inside a ZeroMQ message (no intermediate array).
    @inline(__always)
    package static func write(
        into out: UnsafeMutableRawBufferPointer, seq: UInt64, time: UInt64,
        id: UnsafeRawBufferPointer, headers: UnsafeRawBufferPointer
    ) {
        precondition(id.count <= Int(UInt8.max) && out.count == size(idCount: id.count, headersCount: headers.count))
        out.storeBytes(of: seq.bigEndian, toByteOffset: 0, as: UInt64.self)
        out.storeBytes(of: time.bigEndian, toByteOffset: 8, as: UInt64.self)
        out[16] = UInt8(id.count)
        if id.count > 0 { (out.baseAddress! + 17).copyMemory(from: id.baseAddress!, byteCount: id.count) }
        if headers.count > 0 {
            (out.baseAddress! + 17 + id.count).copyMemory(from: headers.baseAddress!, byteCount: headers.count)
        }
    }

    package static func encode(seq: UInt64, time: UInt64, eventID: [UInt8], headers: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: size(idCount: eventID.count, headersCount: headers.count))
        out.withUnsafeMutableBytes { o in
            eventID.withUnsafeBytes { i in
                headers.withUnsafeBytes { h in write(into: o, seq: seq, time: time, id: i, headers: h) }
            }
        }
        return out
    }

    /// Decodes an envelope; nil when it is shorter than its own lengths say.
    package static func decode(_ frame: [UInt8]) -> Fields? {
        guard frame.count >= fixedBytes else { return nil }
        let n = Int(frame[16])
        guard n <= BrokerLimits.maxEventIDBytes, frame.count >= fixedBytes + n,
            let seq = BigEndian.uint64(frame[0..<8]), let time = BigEndian.uint64(frame[8..<16])
        else { return nil }
        return Fields(
            seq: seq, time: time, eventID: Array(frame[17..<(17 + n)]), headers: Array(frame[(17 + n)...]))
    }
}
