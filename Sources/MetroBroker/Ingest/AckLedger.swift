/// When each acknowledged publish may be ACKed (protocol.md §4.2.1): the pure core
/// of the broker's group commit, with no I/O, tested alone.
///
/// The loop tags every journal flush with a growing token. An ACK waits for the
/// token of the flush that holds its event; the syncer reports tokens as durable,
/// and `durable(upTo:)` hands back the ACKs that may go. Policies without an
/// ACK-time fsync report each flush durable as soon as it is written.
/// `Item` is whatever the loop needs to send the ACK (routing id, event id, seq).
public struct AckLedger<Item> {
    private var waiting: [(item: Item, token: UInt64)] = []
    private var head = 0
    private var flushes: [(token: UInt64, seq: UInt64)] = []
    private var flushHead = 0
    /// The token of the last flush handed to the OS.
    public private(set) var flushToken: UInt64 = 0
    /// The highest seq known durable.
    public private(set) var durableSeq: UInt64
    /// The highest seq handed to the OS.
    public private(set) var writtenSeq: UInt64

    /// `recovered`: the last seq of the journal at start, durable by definition.
    public init(recovered: UInt64) {
        durableSeq = recovered
        writtenSeq = recovered
    }

    public var waitingCount: Int { waiting.count - head }

    /// Queues the ACK of an event appended in the current (unflushed) batch.
    public mutating func waitForNextFlush(_ item: Item) {
        waiting.append((item, flushToken + 1))
    }

    /// A retry of an event stored earlier under `seq`: `true` if it may be ACKed
    /// now; otherwise it is queued behind the flush that holds `seq`.
    public mutating func duplicate(_ item: Item, seq: UInt64) -> Bool {
        if seq <= durableSeq { return true }
        waiting.append((item, seq > writtenSeq ? flushToken + 1 : flushToken))
        return false
    }

    /// Records a flush whose last seq is `writtenSeq`; returns its token.
    public mutating func flushed(writtenSeq seq: UInt64) -> UInt64 {
        flushToken += 1
        writtenSeq = seq
        flushes.append((flushToken, seq))
        return flushToken
    }

    /// The syncer made every flush up to `token` durable: returns the ACKs that may
    /// be sent now, in the order they were queued.
    public mutating func durable(upTo token: UInt64) -> [Item] {
        while flushHead < flushes.count, flushes[flushHead].token <= token {
            durableSeq = max(durableSeq, flushes[flushHead].seq)
            flushHead += 1
        }
        var ready: [Item] = []
        while head < waiting.count, waiting[head].token <= token {
            ready.append(waiting[head].item)
            head += 1
        }
        compact()
        return ready
    }

    /// The journal failed: every queued ACK is handed back (to be answered with ERROR).
    public mutating func failAll() -> [Item] {
        let all = waiting[head...].map(\.item)
        waiting.removeAll(keepingCapacity: true)
        head = 0
        return all
    }

    private mutating func compact() {
        if head == waiting.count {
            waiting.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 4096 {
            waiting.removeFirst(head)
            head = 0
        }
        if flushHead == flushes.count {
            flushes.removeAll(keepingCapacity: true)
            flushHead = 0
        }
    }
}
