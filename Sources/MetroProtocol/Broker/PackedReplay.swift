/// The body of an EVENT-PACKED message (protocol.md §4.9.2): one or more whole
/// journal records (Appendix B: little-endian, with their CRC-32C) back to back,
/// exactly as the broker's journal holds them, so the broker sends a batch by
/// copying the bytes it read and a client reads it with the journal's own codec.
///
/// The events inside are in strictly increasing seq order; the body ends exactly
/// after its last record.
package enum PackedReplay {
    /// The events of a body, in order; nil when the body is empty, ends inside a
    /// record, or holds a record whose length or checksum is wrong (a client MUST
    /// NOT take a damaged batch for a shorter one).
    package static func events(_ body: [UInt8]) -> [LiveEvent]? {
        guard !body.isEmpty else { return nil }
        return body.withUnsafeBytes { raw -> [LiveEvent]? in
            var events: [LiveEvent] = []
            var at = 0
            while at < raw.count {
                let rest = UnsafeRawBufferPointer(rebasing: raw[at...])
                guard case .record(let size, _, _) = JournalRecord.probe(rest),
                    let record = JournalRecord(decoding: UnsafeRawBufferPointer(rebasing: rest[..<size])),
                    let event = LiveEvent(checkedRecord: record)
                else { return nil }
                events.append(event)
                at += size
            }
            return events
        }
    }

    /// A body holding these records (tests, the benchmark's baseline sender).
    package static func body(_ records: [JournalRecord]) -> [UInt8] {
        records.flatMap(\.encoded)
    }
}

extension LiveEvent {
    /// The live form of a journaled event (what replay sends inside EVENT, §4.9).
    package init(record: JournalRecord) {
        self.init(
            topic: String(decoding: record.topic, as: UTF8.self), seq: record.seq, time: record.time,
            eventID: record.eventID, headers: record.headers, payload: record.payload)
    }

    /// As `init(record:)`, for records from the wire: nil when the topic is not UTF-8.
    init?(checkedRecord record: JournalRecord) {
        guard let topic = String(validating: record.topic, as: UTF8.self) else { return nil }
        self.init(
            topic: topic, seq: record.seq, time: record.time, eventID: record.eventID, headers: record.headers,
            payload: record.payload)
    }
}
