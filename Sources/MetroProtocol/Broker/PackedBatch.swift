/// The packed form of acknowledged publish (protocol.md §4.2.6): a whole batch of
/// events in one frame, and its ACK pairs in one frame.
///
/// ```
/// C: ["metro/1"] ["PUBLISH-PACKED"] [events]
///      events = ( [u8 id-length][id][u8 topic-length][topic]
///                 [u32 headers-length][headers][u32 payload-length][payload] ){1..256}
/// B: ["metro/1"] ["ACK-PACKED"] [acks]
///      acks   = ( [u8 id-length][id][u64 seq] ){1..256}
/// ```
///
/// Why a second form: libzmq's cost is per frame (an allocation, a pipe entry and
/// a `zmq_msg_recv` on each side, per I/O thread), not per byte. The framed batch
/// of §4.2.1 still moves 6 frames per event; the packed one moves two messages per
/// batch. The broker reads the frame in place: `count(in:)` checks its structure
/// once, then `PackedEvents.Iterator` hands out views into it without copying.
package enum PackedEvents {
    package static let publishCommand: [UInt8] = Array("PUBLISH-PACKED".utf8)
    package static let ackCommand: [UInt8] = Array("ACK-PACKED".utf8)

    /// One event of a packed frame, as views into it (valid while the frame is).
    package struct Event {
        package var id: UnsafeRawBufferPointer
        package var topic: UnsafeRawBufferPointer
        package var headers: UnsafeRawBufferPointer
        package var payload: UnsafeRawBufferPointer

        @inlinable
        package init(
            id: UnsafeRawBufferPointer, topic: UnsafeRawBufferPointer, headers: UnsafeRawBufferPointer,
            payload: UnsafeRawBufferPointer
        ) {
            self.id = id
            self.topic = topic
            self.headers = headers
            self.payload = payload
        }
    }

    /// The number of events in `frame` if its structure is sound: 1 to `limit`
    /// events whose lengths stay inside the frame and end exactly at its end.
    /// Field contents (id length, topic grammar, sizes) are checked per event.
    @inlinable
    package static func count(in frame: UnsafeRawBufferPointer, limit: Int) -> Int? {
        var at = 0
        var events = 0
        let end = frame.count
        while at < end {
            guard events < limit else { return nil }
            // id, topic: a u8 length each.
            for _ in 0..<2 {
                guard at < end else { return nil }
                let length = Int(frame[at])
                guard length <= end - at - 1 else { return nil }
                at += 1 + length
            }
            // headers, payload: a u32 length each.
            for _ in 0..<2 {
                guard end - at >= 4 else { return nil }
                let length = Int(UInt32(bigEndian: frame.loadUnaligned(fromByteOffset: at, as: UInt32.self)))
                guard length <= end - at - 4 else { return nil }
                at += 4 + length
            }
            events += 1
        }
        return events == 0 ? nil : events
    }

    /// Walks a frame that `count(in:)` accepted.
    package struct Iterator: IteratorProtocol {
        @usableFromInline let frame: UnsafeRawBufferPointer
        @usableFromInline var at = 0

        @inlinable
        package init(_ frame: UnsafeRawBufferPointer) { self.frame = frame }

        @inlinable
        package mutating func next() -> Event? {
            guard at < frame.count else { return nil }
            let id = short()
            let topic = short()
            let headers = long()
            let payload = long()
            return Event(id: id, topic: topic, headers: headers, payload: payload)
        }

        @inlinable
        mutating func short() -> UnsafeRawBufferPointer {
            let length = Int(frame[at])
            defer { at += 1 + length }
            return UnsafeRawBufferPointer(rebasing: frame[(at + 1)..<(at + 1 + length)])
        }

        @inlinable
        mutating func long() -> UnsafeRawBufferPointer {
            let length = Int(UInt32(bigEndian: frame.loadUnaligned(fromByteOffset: at, as: UInt32.self)))
            defer { at += 4 + length }
            return UnsafeRawBufferPointer(rebasing: frame[(at + 4)..<(at + 4 + length)])
        }
    }

    /// The bytes `event` takes in an events frame: its fields and their lengths
    /// (1 + 1 + 4 + 4 bytes).
    package static func packedSize(_ event: IngestCodec.Publish) -> Int {
        10 + event.eventID.count + event.topic.utf8.count + event.headers.count + event.payload.count
    }

    /// The events frame of a PUBLISH-PACKED. Ids and topics longer than 255 bytes
    /// cannot be packed (the broker would refuse them anyway): a precondition.
    package static func frame(_ events: some Collection<IngestCodec.Publish>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(events.reduce(0) { $0 + packedSize($1) })
        for e in events {
            precondition(e.eventID.count <= 255 && e.topic.utf8.count <= 255, "id or topic too long to pack")
            out.append(UInt8(e.eventID.count))
            out += e.eventID
            out.append(UInt8(e.topic.utf8.count))
            out += e.topic.utf8
            appendU32(&out, e.headers.count)
            out += e.headers
            appendU32(&out, e.payload.count)
            out += e.payload
        }
        return out
    }

    /// The frames a DEALER sends for `events` (1 to `IngestCodec.maxEventsPerPublish`).
    package static func frames(publishing events: some Collection<IngestCodec.Publish>) -> [[UInt8]] {
        precondition(!events.isEmpty && events.count <= IngestCodec.maxEventsPerPublish)
        return [WireProtocol.versionBytes, publishCommand, frame(events)]
    }

    /// The acks frame of an ACK-PACKED.
    package static func ackFrame(_ acks: [IngestCodec.Ack]) -> [UInt8] {
        var out: [UInt8] = []
        for a in acks { appendAck(&out, id: a.eventID, seq: a.seq) }
        return out
    }

    /// Appends one (id, seq) pair to an acks frame.
    @inlinable
    package static func appendAck(_ out: inout [UInt8], id: some Collection<UInt8>, seq: UInt64) {
        out.append(UInt8(truncatingIfNeeded: id.count))
        out.append(contentsOf: id)
        withUnsafeBytes(of: seq.bigEndian) { out.append(contentsOf: $0) }
    }

    /// Decodes an acks frame; nil if malformed (empty, or a pair cut short).
    package static func decodeAcks(_ frame: [UInt8]) -> [IngestCodec.Ack]? {
        var acks: [IngestCodec.Ack] = []
        var at = 0
        while at < frame.count {
            let length = Int(frame[at])
            guard length >= 1, frame.count - at - 1 >= length + 8 else { return nil }
            let id = Array(frame[(at + 1)..<(at + 1 + length)])
            let seq = frame[(at + 1 + length)..<(at + 9 + length)].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            acks.append(IngestCodec.Ack(eventID: id, seq: seq))
            at += 9 + length
        }
        return acks.isEmpty ? nil : acks
    }

    static func appendU32(_ out: inout [UInt8], _ value: Int) {
        withUnsafeBytes(of: UInt32(value).bigEndian) { out.append(contentsOf: $0) }
    }
}
