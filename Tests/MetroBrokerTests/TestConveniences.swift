import MetroProtocol

@testable import MetroBroker

/// Value-taking forms of the broker's hot-path APIs, for tests only: the broker
/// itself passes raw buffers and keys, so these live here, not in the module.

extension Journal {
    /// Appends a record given as values.
    func append(_ r: JournalRecord) throws {
        try r.eventID.withUnsafeBytes { i in
            try r.topic.withUnsafeBytes { t in
                try r.headers.withUnsafeBytes { h in
                    try r.payload.withUnsafeBytes { p in
                        try append(seq: r.seq, time: r.time, id: i, topic: t, headers: h, payload: p)
                    }
                }
            }
        }
    }
}

extension DedupeWindow {
    mutating func lookup(_ id: [UInt8], now: UInt64) -> UInt64? { lookup(Key(id), now: now) }
    mutating func insert(_ id: [UInt8], seq: UInt64, time: UInt64) { insert(Key(id), seq: seq, time: time) }
}

extension AckLedger {
    /// `durable(upTo:_:)` collecting the items.
    mutating func durable(upTo token: UInt64) -> [Item] {
        var ready: [Item] = []
        durable(upTo: token) { item, _ in ready.append(item) }
        return ready
    }

    /// `failAll(_:)` collecting the items.
    mutating func failAll() -> [Item] {
        var all: [Item] = []
        failAll { item, _ in all.append(item) }
        return all
    }
}
