import MetroBroker
import Testing

@Suite struct AckLedgerTests {
    @Test func acksWaitForTheirFlushToBeDurable() {
        var ledger = AckLedger<String>(recovered: 10)
        ledger.waitForNextFlush("a")  // seq 11
        ledger.waitForNextFlush("b")  // seq 12
        let first = ledger.flushed(writtenSeq: 12)
        ledger.waitForNextFlush("c")  // seq 13, next batch
        let second = ledger.flushed(writtenSeq: 13)
        do { let r = ledger.durable(upTo: first - 1); #expect(r.isEmpty) }
        do { let r = ledger.durable(upTo: first); #expect(r == ["a", "b"]) }
        #expect(ledger.durableSeq == 12)
        do { let r = ledger.durable(upTo: second); #expect(r == ["c"]) }
        #expect(ledger.durableSeq == 13)
        #expect(ledger.waitingCount == 0)
    }

    @Test func theSyncerMayCoalesceFlushes() {
        var ledger = AckLedger<Int>(recovered: 0)
        var last: UInt64 = 0
        for i in 1...5 {
            ledger.waitForNextFlush(i)
            last = ledger.flushed(writtenSeq: UInt64(i))
        }
        do { let r = ledger.durable(upTo: last); #expect(r == [1, 2, 3, 4, 5]) }
        #expect(ledger.durableSeq == 5)
    }

    @Test func duplicatesAreAckedWhenTheirOriginalIsDurable() {
        var ledger = AckLedger<String>(recovered: 100)
        // Recovered from the journal: durable already.
        let old = ledger.duplicate("old", seq: 90)
        #expect(old)
        // Original in the current batch: waits for the next flush.
        ledger.waitForNextFlush("orig")  // seq 101
        let sameBatch = ledger.duplicate("dup-same-batch", seq: 101)
        #expect(!sameBatch)
        let t1 = ledger.flushed(writtenSeq: 101)
        // Original flushed but not yet durable: waits for that flush.
        let afterFlush = ledger.duplicate("dup-after-flush", seq: 101)
        #expect(!afterFlush)
        let ready = ledger.durable(upTo: t1)
        #expect(ready == ["orig", "dup-same-batch", "dup-after-flush"])
        let durable = ledger.duplicate("dup-durable", seq: 101)
        #expect(durable)
    }

    @Test func aJournalFailureHandsBackEveryWaitingAck() {
        var ledger = AckLedger<Int>(recovered: 0)
        ledger.waitForNextFlush(1)
        _ = ledger.flushed(writtenSeq: 1)
        ledger.waitForNextFlush(2)
        do { let r = ledger.failAll(); #expect(r == [1, 2]) }
        #expect(ledger.waitingCount == 0)
        do { let r = ledger.durable(upTo: 10); #expect(r.isEmpty) }
    }

    @Test func manyAcksStayCompact() {
        var ledger = AckLedger<Int>(recovered: 0)
        for i in 1...20_000 {
            ledger.waitForNextFlush(i)
            let t = ledger.flushed(writtenSeq: UInt64(i))
            if i % 3 == 0 { do { let r = ledger.durable(upTo: t); #expect(r.count == 3) } }
        }
        #expect(ledger.waitingCount == 2)
    }
}

@Suite struct AckLedgerAttachmentTests {
    /// Attachments come back with their items, in order, across coalesced flushes,
    /// duplicates and compaction.
    @Test func attachmentsTravelWithTheirItems() {
        var ledger = AckLedger<Int>(recovered: 0)
        var expected: [(Int, [UInt8])] = []
        var released: [(Int, [UInt8])] = []
        for i in 1...10_000 {
            let routing: [UInt8] = [0, UInt8(i % 256), 7]
            let id = Array("event-\(i)".utf8)
            routing.withUnsafeBytes { r in
                id.withUnsafeBytes { d in ledger.waitForNextFlush(i, attaching: .init(r, d)) }
            }
            expected.append((i, routing + id))
            if i % 5 == 0 {
                let t = ledger.flushed(writtenSeq: UInt64(i))
                if i % 15 == 0 { ledger.durable(upTo: t) { item, bytes in released.append((item, [UInt8](bytes))) } }
            }
        }
        let t = ledger.flushed(writtenSeq: 10_000)
        ledger.durable(upTo: t) { item, bytes in released.append((item, [UInt8](bytes))) }
        #expect(released.count == expected.count)
        #expect(released.map(\.0) == expected.map(\.0))
        #expect(released.map(\.1) == expected.map(\.1))
        #expect(ledger.waitingCount == 0)
    }
}
