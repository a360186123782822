import MetroProtocol
import ZeroMQ

#if canImport(Glibc)
    import Glibc
#endif

/// The one place where an event gets its seq, is journaled, is counted and is
/// handed to the fan-out (protocol.md §4.1, §4.4): acknowledged publish, fire-and-
/// forget publish and dead letters all come through `append`.
///
/// The event's topic and payload are frames of a `MultipartBuffer` the caller
/// owns, and its envelope is built into a scratch slot of that buffer, so the
/// fan-out sends all three without copying (the hot path: no allocation, no
/// retain/release per event, final class, direct calls). A failure is thrown as
/// `JournalError` before a seq is used: the event is then neither stored nor sent.
///
/// Threading: owned by the broker's loop thread.
final class EventLog {
    let journal: Journal
    let reservation: SequenceReservation
    let fanOut: FanOut
    private let counters: BrokerCounters
    /// The seq the next event gets.
    private(set) var nextSeq: UInt64
    /// Slots for events built from copies (dead letters): 0 unused, 1 topic, 2 envelope, 3 payload.
    private let copies = MultipartBuffer(capacity: 1, scratch: 3)

    /// Continues after the journal's last seq and the reserved block, whichever is
    /// higher (§4.1), and reserves the first seq it will hand out.
    init(journal: Journal, reservation: SequenceReservation, fanOut: FanOut, counters: BrokerCounters)
        throws(JournalError)
    {
        self.journal = journal
        self.reservation = reservation
        self.fanOut = fanOut
        self.counters = counters
        // Both come from files: a damaged seq.reserve must not overflow the seqs (§4.1).
        let lastUsed = max(journal.lastSeq, reservation.limit)
        nextSeq = lastUsed &+ 1
        guard lastUsed < BrokerLimits.maxSeq else {
            throw JournalError(.read, operation: "read the next seq from", path: reservation.path, errno: EOVERFLOW)
        }
        try reservation.ensure(nextSeq)
    }

    /// The last seq handed out (0 before the first event).
    var headSeq: UInt64 { nextSeq - 1 }

    /// Gives the event its seq, journals it, counts it as accepted and fans it out
    /// from `buffer`: `topic` and `payload` are its slots, `envelope` a scratch slot
    /// the envelope is built in. Returns the seq.
    @inline(__always)
    func append(
        _ buffer: MultipartBuffer, topic: Int, payload: Int, envelope: Int, time: UInt64,
        id: UnsafeRawBufferPointer, headers: UnsafeRawBufferPointer
    ) throws(JournalError) -> UInt64 {
        let seq = nextSeq
        try reservation.ensure(seq)
        try journal.append(
            seq: seq, time: time, id: id, topic: buffer.unsafeFrame(topic), headers: headers,
            payload: buffer.unsafeFrame(payload))
        nextSeq = seq + 1
        counters.accepted &+= 1
        counters.topics.countIn(buffer.unsafeFrame(topic))
        buffer.set(envelope, count: EventEnvelope.size(idCount: id.count, headersCount: headers.count)) {
            EventEnvelope.write(into: $0, seq: seq, time: time, id: id, headers: headers)
        }
        fanOut.send(buffer, topic: topic, envelope: envelope, payload: payload)
        return seq
    }

    /// `append` for an event built by the broker (a dead letter): its bytes are
    /// copied into frames once, then go the same way as a published event.
    func append(
        topic: [UInt8], time: UInt64, id: [UInt8], headers: [UInt8], payload: [UInt8]
    ) throws(JournalError) -> UInt64 {
        copies.set(1, bytes: topic)
        copies.set(3, bytes: payload)
        // `withUnsafeBytes` rethrows untyped errors: carry the typed one out as a value.
        var result: Result<UInt64, JournalError> = .failure(
            JournalError(.write, operation: "append", path: "", errno: 0))
        id.withUnsafeBytes { id in
            headers.withUnsafeBytes { headers in
                do throws(JournalError) {
                    result = .success(
                        try append(copies, topic: 1, payload: 3, envelope: 2, time: time, id: id, headers: headers))
                } catch {
                    result = .failure(error)
                }
            }
        }
        return try result.get()
    }
}
