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
