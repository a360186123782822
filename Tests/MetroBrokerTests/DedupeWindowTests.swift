import MetroBroker
import Testing

@Suite struct DedupeWindowTests {
    let second: UInt64 = 1_000_000_000

    @Test func retryInsideTheWindowGetsTheOriginalSeq() {
        var w = DedupeWindow(windowNanoseconds: 10 * second, maxEntries: 100)
        w.insert([1], seq: 7, time: 100 * second)
        #expect(w.lookup([1], now: 105 * second) == 7)
        #expect(w.lookup([2], now: 105 * second) == nil)
    }

    @Test func idsExpireAfterTheWindow() {
        var w = DedupeWindow(windowNanoseconds: 10 * second, maxEntries: 100)
        w.insert([1], seq: 1, time: 100 * second)
        w.insert([2], seq: 2, time: 105 * second)
        #expect(w.lookup([1], now: 110 * second) == 1)
        #expect(w.lookup([1], now: 111 * second) == nil)
        #expect(w.lookup([2], now: 111 * second) == 2)
        #expect(w.count == 1)
    }

    @Test func sizeIsBounded() {
        var w = DedupeWindow(windowNanoseconds: 1000 * second, maxEntries: 3)
        for i in 0..<10 { w.insert([UInt8(i)], seq: UInt64(i), time: UInt64(i)) }
        #expect(w.count == 3)
        #expect(w.lookup([6], now: 10) == nil)
        #expect(w.lookup([9], now: 10) == 9)
    }

    @Test func reinsertingKeepsTheFirstSeq() {
        var w = DedupeWindow(windowNanoseconds: 1000 * second, maxEntries: 10)
        w.insert([1], seq: 1, time: 1)
        w.insert([1], seq: 2, time: 2)
        #expect(w.lookup([1], now: 3) == 1)
        #expect(w.count == 1)
    }

    @Test func manyIdsCompactTheQueue() {
        var w = DedupeWindow(windowNanoseconds: 10, maxEntries: 100)
        for i in 0..<20_000 { w.insert(Array(String(i).utf8), seq: UInt64(i), time: UInt64(i)) }
        #expect(w.count <= 100)
        #expect(w.lookup(Array("19999".utf8), now: 20_000) == 19_999)
    }
}

/// The table against a plain model (a dictionary plus an insertion-ordered list),
/// through growth, count eviction, expiry and lookups of present and absent ids.
@Suite struct DedupeWindowModelTests {
    struct Model {
        var seqs: [[UInt8]: UInt64] = [:]
        var order: [([UInt8], UInt64)] = []
        var head = 0
        let window: UInt64
        let maxEntries: Int

        var count: Int { order.count - head }

        mutating func expire(_ now: UInt64) {
            while head < order.count, order[head].1 &+ window < now { evict() }
        }
        mutating func insert(_ id: [UInt8], _ seq: UInt64, _ time: UInt64) {
            guard seqs[id] == nil else { return }
            if count == maxEntries { evict() }
            seqs[id] = seq
            order.append((id, time))
        }
        private mutating func evict() {
            seqs[order[head].0] = nil
            head += 1
        }
    }

    @Test(arguments: [1, 7, 1000, 5000])
    func matchesAPlainModel(maxEntries: Int) {
        var rng = SystemRandomNumberGenerator()
        var window = DedupeWindow(windowNanoseconds: 3000, maxEntries: maxEntries)
        var model = Model(window: 3000, maxEntries: maxEntries)
        var now: UInt64 = 0
        for seq in 1...10_000 as ClosedRange<UInt64> {
            now += UInt64.random(in: 0...2, using: &rng)
            // Ids from a small space, so that many lookups hit and re-inserts happen.
            let id = Array(String(UInt64.random(in: 0..<3000, using: &rng)).utf8)
            model.expire(now)
            let expected = model.seqs[id]
            #expect(window.lookup(id, now: now) == expected)
            if expected == nil {
                window.insert(id, seq: seq, time: now)
                model.insert(id, seq, now)
            }
            #expect(window.count == model.count)
        }
        for (id, seq) in model.seqs { #expect(window.lookup(id, now: now) == seq) }
    }
}
