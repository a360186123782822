/// The body of a DELIVER-PACKED message (protocol.md §4.10.2): many deliveries of
/// one group to one member in two frames, the attempts (one big-endian u32 per
/// delivery) and the events as journal records (Appendix B, little-endian with
/// their CRC-32C, the same layout as EVENT-PACKED's, §4.9.2). The i-th attempt
/// belongs to the i-th record; each record's seq is the delivery's id.
///
/// Why two frames and not a per-delivery header inside the records: the records
/// stay exactly the journal's layout, so a client reads them with the code it
/// already has for packed replay, and the broker writes them with the journal's
/// encoder.
package struct PackedDelivery: Sendable, Equatable {
    /// n × u32, big-endian.
    package private(set) var attempts: [UInt8] = []
    /// n journal records, back to back.
    package private(set) var records: [UInt8] = []

    package init() {}

    /// A body as received; `deliveries` checks it.
    package init(attempts: [UInt8], records: [UInt8]) {
        self.attempts = attempts
        self.records = records
    }

    /// Deliveries in the body.
    package var count: Int { attempts.count / 4 }
    package var isEmpty: Bool { attempts.isEmpty }

    /// Appends one delivery: the event encoded as its journal record (with its CRC).
    package mutating func append(attempt: UInt32, _ event: LiveEvent) {
        attempts.append(contentsOf: BigEndian.bytes32(attempt))
        var topic = event.topic
        topic.withUTF8 { t in
            event.eventID.withUnsafeBytes { i in
                event.headers.withUnsafeBytes { h in
                    event.payload.withUnsafeBytes { p in
                        let size = JournalRecord.size(id: i.count, topic: t.count, headers: h.count, payload: p.count)
                        let at = records.count
                        records.append(contentsOf: repeatElement(0, count: size))
                        records.withUnsafeMutableBytes { out in
                            _ = JournalRecord.encode(
                                into: out.baseAddress! + at, seq: event.seq, time: event.time, id: i,
                                topic: UnsafeRawBufferPointer(t), headers: h, payload: p)
                        }
                    }
                }
            }
        }
    }

    /// Appends one delivery whose event is already a journal record (the broker's
    /// bytes, checksum included): copied as it is.
    package mutating func append(attempt: UInt32, record: [UInt8]) {
        attempts.append(contentsOf: BigEndian.bytes32(attempt))
        records.append(contentsOf: record)
    }

    /// Calls `body` with each record's topic bytes (a body this side built: whole
    /// records, not checked again).
    package func forEachTopic(_ body: (UnsafeRawBufferPointer) -> Void) {
        records.withUnsafeBytes { raw in
            var at = 0
            while at + JournalRecord.headerBytes <= raw.count {
                let record = UnsafeRawBufferPointer(rebasing: raw[at...])
                body(JournalRecord.topic(in: record))
                at += 8 + Int(UInt32(littleEndian: record.loadUnaligned(fromByteOffset: 0, as: UInt32.self)))
            }
        }
    }

    /// One delivery of a body.
    package struct Delivery: Sendable, Equatable {
        package var seq: UInt64
        package var attempt: UInt32
        package var event: LiveEvent
    }

    /// The deliveries in order; nil when the body is damaged: no delivery, an
    /// attempts frame that is not 4 bytes per record, or records that `PackedReplay`
    /// refuses (a torn record, a bad length or checksum, a topic not UTF-8). A client
    /// MUST NOT take a damaged body for a shorter one.
    package func deliveries() -> [Delivery]? {
        guard !attempts.isEmpty, attempts.count % 4 == 0, let events = PackedReplay.events(records),
            events.count == count
        else { return nil }
        return events.enumerated().map { i, event in
            let attempt = attempts.withUnsafeBytes {
                UInt32(bigEndian: $0.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))
            }
            return Delivery(seq: event.seq, attempt: attempt, event: event)
        }
    }
}
