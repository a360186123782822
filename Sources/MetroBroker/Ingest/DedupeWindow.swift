/// Remembers recently published event ids and their seqs, so that a retried
/// PUBLISH is answered with its original seq instead of being stored twice
/// (protocol.md §4.2.3). Pure: the caller passes the time (ns), tests pass any.
///
/// An id is forgotten once it is older than `window`, or when more than
/// `maxEntries` ids are held (oldest first). Memory is bounded by `maxEntries`.
public struct DedupeWindow: Sendable {
    public let window: UInt64
    public let maxEntries: Int
    private var seqs: [[UInt8]: UInt64] = [:]
    private var order: [(id: [UInt8], time: UInt64)] = []
    private var head = 0

    public init(windowNanoseconds: UInt64, maxEntries: Int) {
        precondition(maxEntries > 0)
        self.window = windowNanoseconds
        self.maxEntries = maxEntries
    }

    public var count: Int { seqs.count }

    /// The seq an id was stored under, if it is still inside the window at `now`.
    public mutating func lookup(_ id: [UInt8], now: UInt64) -> UInt64? {
        expire(now: now)
        return seqs[id]
    }

    /// Remembers `id` as stored under `seq` at `time`. Ids are inserted in time order.
    public mutating func insert(_ id: [UInt8], seq: UInt64, time: UInt64) {
        guard seqs[id] == nil else { return }  // the first seq stays
        seqs[id] = seq
        order.append((id, time))
        while seqs.count > maxEntries { evictOldest() }
    }

    /// Forgets ids older than the window.
    public mutating func expire(now: UInt64) {
        while head < order.count, order[head].time &+ window < now { evictOldest() }
    }

    private mutating func evictOldest() {
        seqs[order[head].id] = nil
        head += 1
        if head > 4096 && head * 2 > order.count {
            order.removeFirst(head)
            head = 0
        }
    }
}
