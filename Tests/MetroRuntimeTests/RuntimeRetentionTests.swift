import Foundation
import GRDB
import Testing

@testable import MetroRuntime

/// `RuntimeRetention.prune` on a real store: old inbox rows and old sent outbox
/// rows go, in batches; young rows and unsent rows (however old) stay.
@Suite struct RuntimeRetentionTests {
    @Test func oldRowsGoInBatchesAndUnsentOnesStay() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("metro-ret-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = try await ServiceStore.open(
            folder: folder.path, service: "tidy", busyTimeout: .seconds(1), faults: FaultPoints(environment: [:]),
            migrations: { _ in })
        let now = 1_000_000.0
        try await store.pool.write { db in
            for i in 0..<7 {
                try db.execute(
                    sql: "INSERT INTO metro_inbox (consumer_group, event_id, topic, handled_at) VALUES (?, ?, 't', ?)",
                    arguments: ["g", Data("old-\(i)".utf8), now - 100 - Double(i)])
            }
            try db.execute(
                sql: "INSERT INTO metro_inbox (consumer_group, event_id, topic, handled_at) VALUES ('g', ?, 't', ?)",
                arguments: [Data("young".utf8), now - 5])
            let outbox = """
                INSERT INTO metro_outbox (event_id, topic, headers, payload, created_at, sent_at)
                VALUES (?, 't', x'', x'', ?, ?)
                """
            for i in 0..<5 { try db.execute(sql: outbox, arguments: ["sent-\(i)", now - 200, now - 100]) }
            try db.execute(sql: outbox, arguments: ["sent-young", now - 200, now - 5])
            try db.execute(sql: outbox, arguments: ["unsent-old", now - 500, nil])
        }
        let retention = RuntimeRetention(inbox: .seconds(50), outbox: .seconds(50), batch: 3, now: { now })
        #expect(try await retention.prune(store) == .init(inbox: 7, outbox: 5))
        let inbox = try await store.read { try Data.fetchAll($0, sql: "SELECT event_id FROM metro_inbox") }
        #expect(inbox == [Data("young".utf8)])
        let outbox = try await store.read {
            try String.fetchAll($0, sql: "SELECT event_id FROM metro_outbox ORDER BY seq")
        }
        #expect(outbox == ["sent-young", "unsent-old"])
        #expect(try await retention.prune(store) == .init())
        await store.close()
    }
}
