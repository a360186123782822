/// One journal record on disk (protocol.md Appendix B). Little-endian:
///
/// ```
/// off size field
///   0    4 length   L = bytes after the crc field (record size is 8 + L)
///   4    4 crc32c   CRC-32C of those L bytes
///   8    8 seq
///  16    8 time     ns since the Unix epoch
///  24    1 id length      (0 for fire-and-forget)
///  25    1 topic length
///  26    2 flags          (0; reserved)
///  28    4 headers length
///  32    4 payload length
///  36    … id, topic, headers, payload
/// ```
package struct JournalRecord: Sendable, Equatable {
    package static let headerBytes = 36
    /// Fixed bytes covered by the crc (seq ... payload length).
    package static let fixedBodyBytes = 28

    package var seq: UInt64
    package var time: UInt64
    package var eventID: [UInt8]
    package var topic: [UInt8]
    package var headers: [UInt8]
    package var payload: [UInt8]

    package init(seq: UInt64, time: UInt64, eventID: [UInt8], topic: [UInt8], headers: [UInt8], payload: [UInt8]) {
        self.seq = seq
        self.time = time
        self.eventID = eventID
        self.topic = topic
        self.headers = headers
        self.payload = payload
    }

    /// The size of a record with these field sizes.
    @inline(__always)
    package static func size(id: Int, topic: Int, headers: Int, payload: Int) -> Int {
        headerBytes + id + topic + headers + payload
    }

    /// Writes one record at `base` (which must have `size(...)` bytes) and returns its size.
    @inline(__always)
    package static func encode(
        into base: UnsafeMutableRawPointer, seq: UInt64, time: UInt64,
        id: UnsafeRawBufferPointer, topic: UnsafeRawBufferPointer,
        headers: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer
    ) -> Int {
        let total = size(id: id.count, topic: topic.count, headers: headers.count, payload: payload.count)
        base.storeBytes(of: UInt32(total - 8).littleEndian, toByteOffset: 0, as: UInt32.self)
        base.storeBytes(of: seq.littleEndian, toByteOffset: 8, as: UInt64.self)
        base.storeBytes(of: time.littleEndian, toByteOffset: 16, as: UInt64.self)
        base.storeBytes(of: UInt8(id.count), toByteOffset: 24, as: UInt8.self)
        base.storeBytes(of: UInt8(topic.count), toByteOffset: 25, as: UInt8.self)
        base.storeBytes(of: UInt16(0), toByteOffset: 26, as: UInt16.self)
        base.storeBytes(of: UInt32(headers.count).littleEndian, toByteOffset: 28, as: UInt32.self)
        base.storeBytes(of: UInt32(payload.count).littleEndian, toByteOffset: 32, as: UInt32.self)
        var at = headerBytes
        @inline(__always) func put(_ part: UnsafeRawBufferPointer) {
            if part.count > 0 { (base + at).copyMemory(from: part.baseAddress!, byteCount: part.count) }
            at += part.count
        }
        put(id)
        put(topic)
        put(headers)
        put(payload)
        let crc = CRC32C.checksum(UnsafeRawBufferPointer(start: base + 8, count: total - 8))
        base.storeBytes(of: crc.littleEndian, toByteOffset: 4, as: UInt32.self)
        return total
    }

    /// The record as bytes (tests, tools).
    package var encoded: [UInt8] {
        let total = Self.size(id: eventID.count, topic: topic.count, headers: headers.count, payload: payload.count)
        var out = [UInt8](repeating: 0, count: total)
        out.withUnsafeMutableBytes { dst in
            eventID.withUnsafeBytes { i in
                topic.withUnsafeBytes { t in
                    headers.withUnsafeBytes { h in
                        payload.withUnsafeBytes { p in
                            _ = Self.encode(
                                into: dst.baseAddress!, seq: seq, time: time, id: i, topic: t, headers: h, payload: p)
                        }
                    }
                }
            }
        }
        return out
    }

    /// What a look at the bytes at some offset finds.
    package enum Probe: Equatable, Sendable {
        /// A whole, valid record of `size` bytes.
        case record(size: Int, seq: UInt64, time: UInt64)
        /// Fewer bytes than a whole record: a torn tail.
        case truncated
        /// Bytes that are no record: bad length or checksum.
        case corrupt
    }

    /// Checks the record at the start of `raw` without copying it: its framing
    /// (`probeFraming`), then its checksum.
    package static func probe(_ raw: UnsafeRawBufferPointer) -> Probe {
        let framing = probeFraming(raw)
        guard case .record(let total, _, _) = framing else { return framing }
        let crc = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
        guard CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[8..<total])) == crc else { return .corrupt }
        return framing
    }

    /// As `probe`, without the checksum: the length and the field lengths only, so
    /// that records can be walked at memory speed. For a reader that hands the
    /// records on as they are to a client that checks each checksum itself (a
    /// packed replay, §4.9.2): the check is end to end, once, where the bytes are used.
    @inline(__always)
    package static func probeFraming(_ raw: UnsafeRawBufferPointer) -> Probe {
        guard raw.count >= headerBytes else { return .truncated }
        let length = Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt32.self)))
        guard length >= fixedBodyBytes else { return .corrupt }
        let total = 8 + length
        guard raw.count >= total else { return .truncated }
        let headers = Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 28, as: UInt32.self)))
        let payload = Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 32, as: UInt32.self)))
        guard size(id: Int(raw[24]), topic: Int(raw[25]), headers: headers, payload: payload) == total else {
            return .corrupt
        }
        return .record(
            size: total, seq: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)),
            time: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self)))
    }

    /// Decodes the valid record at the start of `raw`; nil if it is torn or corrupt.
    package init?(decoding raw: UnsafeRawBufferPointer) {
        guard case .record = Self.probe(raw) else { return nil }
        self.init(validated: raw)
    }

    /// Decodes a record that `probe` has already found valid (no second checksum).
    package init(validated raw: UnsafeRawBufferPointer) {
        let id = Int(raw[24]), topic = Int(raw[25])
        let headers = Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 28, as: UInt32.self)))
        let payload = Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 32, as: UInt32.self)))
        var at = Self.headerBytes
        func take(_ n: Int) -> [UInt8] {
            defer { at += n }
            return Array(raw[at..<(at + n)])
        }
        self.init(
            seq: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)),
            time: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self)),
            eventID: take(id), topic: take(topic), headers: take(headers), payload: take(payload))
    }

    /// The time of a record whose framing was checked (ns since the epoch).
    @inline(__always)
    package static func time(of raw: UnsafeRawBufferPointer) -> UInt64 {
        UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
    }

    /// The topic bytes of a valid record (no copy).
    package static func topic(in raw: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        let at = headerBytes + Int(raw[24])
        return UnsafeRawBufferPointer(rebasing: raw[at..<(at + Int(raw[25]))])
    }

    package init?(decoding bytes: [UInt8]) {
        guard let r = bytes.withUnsafeBytes({ JournalRecord(decoding: $0) }) else { return nil }
        self = r
    }
}
