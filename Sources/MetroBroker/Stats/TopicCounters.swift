package import MetroProtocol

/// Events in and out by topic prefix, for STATS `topics` and `otherTopics`
/// (protocol.md §4.5) and so for `metro top`. A prefix is the topic's first
/// dotted segment (`video` for `video.uploaded`, `$metro` for a dead letter).
///
/// Bounded whatever the traffic: at most `capacity` prefixes are tracked, the
/// first ones seen; the events of any later prefix count in `other`. Topics are
/// chosen by publishers, so an unbounded table would let a client grow the
/// broker's memory by inventing topics. The table is open addressing over a
/// fixed array keyed by a 64-bit FNV-1a hash of the prefix's bytes, with the
/// bytes kept to tell collisions apart: counting an event costs a hash of a few
/// bytes and a probe, with no allocation once a prefix is known (the ingest hot
/// path calls it for every event).
///
/// Threading: owned by the broker's loop thread, like `BrokerCounters`.
package final class TopicCounters {
    /// Prefixes tracked at most; the table has twice as many slots.
    package static let capacity = 64
    /// Prefixes STATS names at most (the busiest); the rest are summed in `other`.
    package static let reported = 32

    private static let slots = capacity * 2
    private var hashes = [UInt64](repeating: 0, count: slots)
    private var names = [[UInt8]](repeating: [], count: slots)
    private var ins = [UInt64](repeating: 0, count: slots)
    private var outs = [UInt64](repeating: 0, count: slots)
    private var used = 0
    /// Events of prefixes that found no room in the table.
    package private(set) var other = TopicFlow(in: 0, out: 0)

    package init() {}

    /// An event journaled (published, or a dead letter), its topic as raw bytes.
    @inline(__always)
    package func countIn(_ topic: UnsafeRawBufferPointer) {
        if let slot = slot(for: topic) { ins[slot] &+= 1 } else { other.in &+= 1 }
    }

    /// An event sent to a group member (DELIVER) or to a replay's client (EVENT).
    package func countOut(_ topic: String) {
        var topic = topic
        topic.withUTF8 { utf8 in
            let raw = UnsafeRawBufferPointer(utf8)
            if let slot = slot(for: raw) { outs[slot] &+= 1 } else { other.out &+= 1 }
        }
    }

    /// As `countOut(_:)`, on the topic's raw bytes (a packed replay's records).
    @inline(__always)
    package func countOut(raw topic: UnsafeRawBufferPointer, count: UInt64 = 1) {
        if let slot = slot(for: topic) { outs[slot] &+= count } else { other.out &+= count }
    }

    /// The `reported` busiest prefixes (by in + out) by name, and everything else
    /// (later prefixes, and the tracked ones beyond `reported`) summed.
    package func snapshot() -> (topics: [String: TopicFlow], other: TopicFlow) {
        let live = (0..<Self.slots).filter { hashes[$0] != 0 }
            .sorted { ins[$0] &+ outs[$0] > ins[$1] &+ outs[$1] }
        var topics: [String: TopicFlow] = [:]
        var rest = other
        for (rank, slot) in live.enumerated() {
            if rank < Self.reported {
                topics[String(decoding: names[slot], as: UTF8.self)] = TopicFlow(in: ins[slot], out: outs[slot])
            } else {
                rest.in &+= ins[slot]
                rest.out &+= outs[slot]
            }
        }
        return (topics, rest)
    }

    /// The slot of the topic's prefix, taking a free one for a new prefix while
    /// fewer than `capacity` are tracked; nil when the table is full.
    @inline(__always)
    private func slot(for topic: UnsafeRawBufferPointer) -> Int? {
        var end = 0
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        while end < topic.count, topic[end] != UInt8(ascii: ".") {
            hash = (hash ^ UInt64(topic[end])) &* 0x100_0000_01b3
            end += 1
        }
        if hash == 0 { hash = 1 }  // 0 marks a free slot
        let prefix = UnsafeRawBufferPointer(rebasing: topic[0..<end])
        var i = Int(truncatingIfNeeded: hash) & (Self.slots - 1)
        while hashes[i] != 0 {
            if hashes[i] == hash, names[i].elementsEqual(prefix) { return i }
            i = (i + 1) & (Self.slots - 1)
        }
        guard used < Self.capacity else { return nil }
        used += 1
        hashes[i] = hash
        names[i] = Array(prefix)
        return i
    }
}
