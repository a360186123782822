/// When each acknowledged publish may be ACKed (protocol.md §4.2.1): the pure core
/// of the broker's group commit, with no I/O, tested alone.
///
/// The loop tags every journal flush with a growing token. An ACK waits for the
/// token of the flush that holds its event; the syncer reports tokens as durable,
/// and `durable(upTo:)` hands back the ACKs that may go. Policies without an
/// ACK-time fsync report each flush durable as soon as it is written.
/// `Item` is whatever the loop needs to send the ACK (its seq, say); variable
/// bytes (routing id, event id) travel as the item's *attachment*, kept in one
/// byte queue in the same order, so queueing an ACK allocates nothing.
package struct AckLedger<Item> {
    private var waiting: [(item: Item, token: UInt64, end: Int)] = []
    private var head = 0
    /// Attachments, back to back in queue order; item k's bytes end at `waiting[k].end`.
    private var attachments: [UInt8] = []
    private var attachmentsHead = 0
    private var flushes: [(token: UInt64, seq: UInt64)] = []
    private var flushHead = 0
    /// The token of the last flush handed to the OS.
    package private(set) var flushToken: UInt64 = 0
    /// The highest seq known durable.
    package private(set) var durableSeq: UInt64
    /// The highest seq handed to the OS.
    package private(set) var writtenSeq: UInt64

    /// `recovered`: the last seq of the journal at start, durable by definition.
    package init(recovered: UInt64) {
        durableSeq = recovered
        writtenSeq = recovered
    }

    package var waitingCount: Int { waiting.count - head }

    /// Queues the ACK of an event appended in the current (unflushed) batch, with
    /// the two byte strings `attaching` (handed back with it, concatenated).
    package mutating func waitForNextFlush(_ item: Item, attaching parts: Attachment = .none) {
        enqueue(item, token: flushToken + 1, parts)
    }

    /// A retry of an event stored earlier under `seq`: `true` if it may be ACKed
    /// now (then nothing is queued); otherwise it is queued behind the flush that
    /// holds `seq`.
    package mutating func duplicate(_ item: Item, seq: UInt64, attaching parts: Attachment = .none) -> Bool {
        if seq <= durableSeq { return true }
        enqueue(item, token: seq > writtenSeq ? flushToken + 1 : flushToken, parts)
        return false
    }

    /// Up to two byte strings stored with an item (they are copied).
    package struct Attachment {
        let first: UnsafeRawBufferPointer
        let second: UnsafeRawBufferPointer
        package init(_ first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer) {
            self.first = first
            self.second = second
        }
        package static var none: Attachment {
            Attachment(UnsafeRawBufferPointer(start: nil, count: 0), UnsafeRawBufferPointer(start: nil, count: 0))
        }
    }

    private mutating func enqueue(_ item: Item, token: UInt64, _ parts: Attachment) {
        attachments.append(contentsOf: parts.first)
        attachments.append(contentsOf: parts.second)
        waiting.append((item, token, attachments.count))
    }

    /// Records a flush whose last seq is `writtenSeq`; returns its token.
    package mutating func flushed(writtenSeq seq: UInt64) -> UInt64 {
        flushToken += 1
        writtenSeq = seq
        flushes.append((flushToken, seq))
        return flushToken
    }

    /// The syncer made every flush up to `token` durable: hands each ACK that may be
    /// sent now to `body`, with its attachment, in the order they were queued.
    package mutating func durable(upTo token: UInt64, _ body: (Item, UnsafeRawBufferPointer) -> Void) {
        while flushHead < flushes.count, flushes[flushHead].token <= token {
            durableSeq = max(durableSeq, flushes[flushHead].seq)
            flushHead += 1
        }
        release(while: { $0 <= token }, body)
        compact()
    }

    /// The journal failed: every queued ACK is handed to `body` (to be answered with ERROR).
    package mutating func failAll(_ body: (Item, UnsafeRawBufferPointer) -> Void) {
        release(while: { _ in true }, body)
        compact()
    }

    private mutating func release(while due: (UInt64) -> Bool, _ body: (Item, UnsafeRawBufferPointer) -> Void) {
        while head < waiting.count, due(waiting[head].token) {
            let (item, _, end) = waiting[head]
            let start = attachmentsHead
            attachmentsHead = end
            head += 1
            attachments.withUnsafeBytes { body(item, UnsafeRawBufferPointer(rebasing: $0[start..<end])) }
        }
    }

    private mutating func compact() {
        if head == waiting.count {
            waiting.removeAll(keepingCapacity: true)
            attachments.removeAll(keepingCapacity: true)
            head = 0
            attachmentsHead = 0
        } else if head > 4096 {
            waiting.removeFirst(head)
            for k in waiting.indices { waiting[k].end -= attachmentsHead }
            attachments.removeFirst(attachmentsHead)
            head = 0
            attachmentsHead = 0
        }
        if flushHead == flushes.count {
            flushes.removeAll(keepingCapacity: true)
            flushHead = 0
        }
    }
}
