import Foundation
import GRDB
import Testing

@testable import MetroRuntime

/// `RuntimeRetention.prune` on a real store: an inbox row goes only once it is
/// old and its event is below the journal's first seq; sent outbox rows go once
/// old; unsent outbox rows, and inbox rows without a seq, stay. In batches.
@Suite struct RuntimeRetentionTests {
    static let now = 1_000_000.0

    static func store() async throws -> (ServiceStore, URL) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("metro-ret-\(UUID().uuidString)")
        let store = try await ServiceStore.open(
            folder: folder.path, service: "tidy", busyTimeout: .seconds(1), faults: FaultPoints(environment: [:]),
            migrations: { _ in })
        return (store, folder)
    }

    static func inbox(_ store: ServiceStore, _ id: String, age: Double, seq: Int64?) async throws {
        try await store.pool.write { db in
            try db.execute(
                sql:
                    "INSERT INTO metro_inbox (consumer_group, event_id, topic, handled_at, seq) VALUES ('g', ?, 't', ?, ?)",
                arguments: [Data(id.utf8), now - age, seq])
        }
    }

    static func inboxIDs(_ store: ServiceStore) async throws -> [String] {
        try await store.read { db in
            try Data.fetchAll(db, sql: "SELECT event_id FROM metro_inbox").map { String(decoding: $0, as: UTF8.self) }
                .sorted()
        }
    }

    @Test func anInboxRowGoesOnlyOnceOldAndOutOfTheJournal() async throws {
        let (store, folder) = try await Self.store()
        defer { try? FileManager.default.removeItem(at: folder) }
        for i in 0..<7 { try await Self.inbox(store, "gone-\(i)", age: 100 + Double(i), seq: Int64(10 + i)) }
        try await Self.inbox(store, "young", age: 5, seq: 11)  // out of the journal, but handled recently
        try await Self.inbox(store, "in-journal", age: 500, seq: 50)  // old, its event still delivered
        try await Self.inbox(store, "no-seq", age: 500, seq: nil)  // written before seqs were kept
        let retention = RuntimeRetention(inbox: .seconds(50), outbox: .seconds(50), batch: 3, now: { Self.now })
        // The broker did not answer: nothing.
        #expect(try await retention.prune(store, journalFirstSeq: nil) == .init())
        #expect(try await Self.inboxIDs(store).count == 10)
        #expect(try await retention.prune(store, journalFirstSeq: 50) == .init(inbox: 7))
        #expect(try await Self.inboxIDs(store) == ["in-journal", "no-seq", "young"])
        #expect(try await retention.prune(store, journalFirstSeq: 50) == .init())
        await store.close()
    }

    @Test func sentOutboxRowsGoOnceOldAndUnsentOnesStay() async throws {
        let (store, folder) = try await Self.store()
        defer { try? FileManager.default.removeItem(at: folder) }
        let now = Self.now
        try await store.pool.write { db in
            let outbox = """
                INSERT INTO metro_outbox (event_id, topic, headers, payload, created_at, sent_at)
                VALUES (?, 't', x'', x'', ?, ?)
                """
            for i in 0..<5 { try db.execute(sql: outbox, arguments: ["sent-\(i)", now - 200, now - 100]) }
            try db.execute(sql: outbox, arguments: ["sent-young", now - 200, now - 5])
            try db.execute(sql: outbox, arguments: ["unsent-old", now - 500, nil])
        }
        let retention = RuntimeRetention(inbox: .seconds(50), outbox: .seconds(50), batch: 3, now: { now })
        #expect(try await retention.prune(store, journalFirstSeq: nil) == .init(outbox: 5))
        let outbox = try await store.read {
            try String.fetchAll($0, sql: "SELECT event_id FROM metro_outbox ORDER BY seq")
        }
        #expect(outbox == ["sent-young", "unsent-old"])
        await store.close()
    }

    /// A duplicate of an event (same id) that comes with a newer seq raises its
    /// row's seq, so the row lives while the newer copy is in the journal.
    @Test func aDuplicateWithANewerSeqKeepsItsRowLonger() async throws {
        let (store, folder) = try await Self.store()
        defer { try? FileManager.default.removeItem(at: folder) }
        let id = Array("e-1".utf8)
        _ = try await store.commitOnce(group: "g", eventID: id, topic: "t", seq: 10, correlation: .init()) { _ in 1 }
        let again = try await store.commitOnce(group: "g", eventID: id, topic: "t", seq: 900, correlation: .init()) {
            _ in 2
        }
        #expect(again == nil, "a duplicate: the body did not run")
        let older = try await store.commitOnce(group: "g", eventID: id, topic: "t", seq: 5, correlation: .init()) {
            _ in 3
        }
        #expect(older == nil)
        let seq = try await store.read { try Int64.fetchOne($0, sql: "SELECT seq FROM metro_inbox") }
        #expect(seq == 900, "the highest seq the event came with")
        await store.close()
    }
}
