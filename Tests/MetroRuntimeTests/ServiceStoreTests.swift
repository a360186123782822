import Foundation
import GRDB
import Testing

@testable import MetroRuntime

/// The store without a broker: the inbox's once-only commit, the outbox rows a
/// transaction writes, and what a rolled-back transaction leaves (nothing).
@Suite struct ServiceStoreTests {
    struct Said: Codable, Sendable { var text: String }

    static func withStore(_ body: (ServiceStore) async throws -> Void) async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("metro-store-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = try await ServiceStore.open(
            folder: folder.path, service: "unit", busyTimeout: .seconds(1), faults: FaultPoints(environment: [:])
        ) { m in
            m.registerMigration("unit-1") { db in
                try db.execute(sql: "CREATE TABLE said (text TEXT NOT NULL)")
                try db.execute(sql: "CREATE TABLE keys (k TEXT PRIMARY KEY)")
            }
        }
        #expect(store.path == folder.appendingPathComponent("unit/unit.sqlite").path)
        do {
            try await body(store)
        } catch {
            await store.close()
            throw error
        }
        await store.close()
    }

    @Test func anEventIDCommitsItsEffectOnce() async throws {
        try await Self.withStore { (store: ServiceStore) async throws in
            let id = Array("e-1".utf8)
            let first = try await store.commitOnce(group: "g", eventID: id, topic: "t", seq: 1, correlation: .init()) {
                tx in
                try tx.db.execute(sql: "INSERT INTO said VALUES ('a')")
                return 1
            }
            let second = try await store.commitOnce(group: "g", eventID: id, topic: "t", seq: 1, correlation: .init()) {
                tx in
                try tx.db.execute(sql: "INSERT INTO said VALUES ('a')")
                return 2
            }
            #expect(first == 1 && second == nil)
            #expect(try await store.alreadyHandled(group: "g", id))
            #expect(try await store.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM said") } == 1)
        }
    }

    @Test func eachGroupCommitsTheSameEventOnce() async throws {
        try await Self.withStore { (store: ServiceStore) async throws in
            let id = Array("e-3".utf8)
            for group in ["history", "stats", "history"] {
                _ = try await store.commitOnce(group: group, eventID: id, topic: "t", seq: 1, correlation: .init()) {
                    tx in
                    try tx.db.execute(sql: "INSERT INTO said VALUES (?)", arguments: [group])
                }
            }
            let said = try await store.read { try String.fetchAll($0, sql: "SELECT text FROM said ORDER BY rowid") }
            #expect(said == ["history", "stats"], "two handlers with overlapping prefixes: one effect each")
        }
    }

    struct Boom: Error {}

    @Test func aFailedEffectLeavesNoInboxRowAndNoOutboxRow() async throws {
        try await Self.withStore { (store: ServiceStore) async throws in
            let id = Array("e-2".utf8)
            await #expect(throws: Boom.self) {
                try await store.commitOnce(group: "g", eventID: id, topic: "t", seq: 1, correlation: .init()) { tx in
                    try tx.publish(topic: "out.x", event: Said(text: "never"))
                    throw Boom()
                }
            }
            #expect(try await !store.alreadyHandled(group: "g", id), "a redelivery must run the handler again")
            #expect(try await store.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM metro_outbox") } == 0)
        }
    }

    @Test func publishWritesAnOutboxRowWithTheCorrelationHeaders() async throws {
        try await Self.withStore { (store: ServiceStore) async throws in
            let correlation = EventHeaders(requestId: "req-1", traceparent: "00-abc-def-01")
            let id = try await store.write(correlation: correlation) { tx in
                try tx.publish(topic: "out.said", event: Said(text: "hi"), schema: "2.1")
            }
            let row = try #require(
                try await store.read { db -> [String]? in
                    try Row.fetchOne(db, sql: "SELECT event_id, topic, headers, payload, sent_at FROM metro_outbox")
                        .map { r in
                            let headers: Data = r["headers"]
                            let payload: Data = r["payload"]
                            let sent: Double? = r["sent_at"]
                            return [
                                r["event_id"], r["topic"], String(decoding: headers, as: UTF8.self),
                                String(decoding: payload, as: UTF8.self), sent == nil ? "unsent" : "sent",
                            ]
                        }
                })
            #expect(row[0] == id && UUID(uuidString: id) != nil)
            #expect(
                Array(row[1...]) == [
                    "out.said", #"{"requestId":"req-1","schema":"2.1","traceparent":"00-abc-def-01"}"#,
                    #"{"text":"hi"}"#, "unsent",
                ])
        }
    }

    @Test func publishRefusesAnInvalidTopic() async throws {
        try await Self.withStore { (store: ServiceStore) async throws in
            await #expect(throws: OutboxError.self) {
                try await store.write { tx in try tx.publish(topic: "$metro.dead.x", event: Said(text: "no")) }
            }
            await #expect(throws: OutboxError.self) {
                try await store.write { tx in try tx.publish(topic: "", event: Said(text: "no")) }
            }
        }
    }

    /// GRDB sets NORMAL on its writer after `prepareDatabase` has run: the store
    /// must leave every connection, the writer first, at FULL (2) on a real file.
    @Test func everyConnectionSyncsEachCommit() async throws {
        try await Self.withStore { store in
            let writer = try await store.pool.writeWithoutTransaction { db in
                try Int.fetchOne(db, sql: "PRAGMA synchronous")
            }
            #expect(writer == 2)
            #expect(try await store.read { try Int.fetchOne($0, sql: "PRAGMA synchronous") } == 2)
            #expect(try await store.read { try String.fetchOne($0, sql: "PRAGMA journal_mode") } == "wal")
        }
    }

    /// A batch's outcome: ACKed rows are marked sent, the first failure is kept.
    @Test func batchOutcomeMarksOnlyAckedRows() {
        struct Refused: Error {}
        let rows = (1...4).map {
            OutboxRelay.Row(seq: Int64($0), eventID: "e-\($0)", topic: "t", headers: [], payload: [])
        }
        let outcome = BatchOutcome(
            rows: rows, results: [.success(10), .failure(Refused()), .success(12), .failure(CancellationError())])
        #expect(outcome.sent == [1, 3])
        #expect(outcome.firstFailure is Refused)
        #expect(BatchOutcome(rows: rows, results: rows.map { _ in .success(1) }).firstFailure == nil)
    }
}
