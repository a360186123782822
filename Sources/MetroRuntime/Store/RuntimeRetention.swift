import Foundation
import GRDB
import Logging
import Metrics

/// Keeps the runtime's own tables bounded: without it, `metro_inbox` took one
/// row per event handled and `metro_outbox` one row (with the whole payload) per
/// event published, for ever, so a service's database grew with its traffic.
/// A housekeeping task of every instance (`ServiceRuntime` adds it to the
/// service's own), every `Configuration.retentionInterval`, deletes:
///
/// - **inbox rows handled longer ago than `inboxRetention`** (8 days). An inbox
///   row must outlive every redelivery of its event. The broker redelivers only
///   from its journal, so a row older than the journal's retention by age
///   (`journal.retention.maxAgeHours`, 168 h by default) can never be needed:
///   keep the inbox retention above it. In practice a redelivery comes within
///   minutes (an ACK lost, a member lost: the ACK deadline times the group's
///   deliveries), and a journal rebuild runs into a fresh database.
/// - **outbox rows sent longer ago than `outboxRetention`** (1 h). Once the broker
///   ACKed an event, nothing reads its row again but `ServiceStore.awaitPublished`,
///   within one call's deadline. Unsent rows are never deleted.
///
/// Deletes go in transactions of at most `batch` rows, so a handler's commit
/// waits for one short transaction at most. SQLite reuses the freed pages; the
/// file does not shrink (VACUUM would rewrite it whole while holding the writer).
struct RuntimeRetention: Sendable {
    /// Below this the runtime warns at start (the journal's default age retention).
    static let safeInbox: Duration = .seconds(168 * 3600)

    var inbox: Duration
    var outbox: Duration
    var batch = 2_000
    var now: @Sendable () -> Double = { Date().timeIntervalSince1970 }

    /// The rows deleted, per table.
    struct Pruned: Equatable {
        var inbox = 0
        var outbox = 0
    }

    func prune(_ store: ServiceStore) async throws -> Pruned {
        let inboxCutoff = now() - inbox.seconds
        let outboxCutoff = now() - outbox.seconds
        var pruned = Pruned()
        while true {
            let n = try await store.pool.write { db in
                try db.execute(
                    sql: """
                        DELETE FROM metro_inbox WHERE (consumer_group, event_id) IN (
                            SELECT consumer_group, event_id FROM metro_inbox WHERE handled_at < ? LIMIT ?)
                        """, arguments: [inboxCutoff, batch])
                return db.changesCount
            }
            pruned.inbox += n
            if n < batch { break }
        }
        while true {
            let n = try await store.pool.write { db in
                try db.execute(
                    sql: """
                        DELETE FROM metro_outbox WHERE seq IN (
                            SELECT seq FROM metro_outbox WHERE sent_at IS NOT NULL AND sent_at < ? LIMIT ?)
                        """, arguments: [outboxCutoff, batch])
                return db.changesCount
            }
            pruned.outbox += n
            if n < batch { break }
        }
        if pruned.inbox > 0 { Self.deleted["inbox"]?.increment(by: pruned.inbox) }
        if pruned.outbox > 0 { Self.deleted["outbox"]?.increment(by: pruned.outbox) }
        return pruned
    }

    /// The housekeeping task: prunes and logs what it deleted.
    func registration(every interval: Duration) -> HousekeepingRegistration {
        HousekeepingRegistration(name: "retention", interval: interval) { context in
            let pruned = try await prune(context.store)
            guard pruned != Pruned() else { return }
            context.logger.info(
                "retention: deleted old rows",
                metadata: [
                    "inbox": "\(pruned.inbox)", "outbox": "\(pruned.outbox)",
                    "inbox-retention": "\(inbox)", "outbox-retention": "\(outbox)",
                ])
        }
    }

    private static let deleted = [
        "inbox": Counter(label: "metro_service_retention_deleted_total", dimensions: [("table", "inbox")]),
        "outbox": Counter(label: "metro_service_retention_deleted_total", dimensions: [("table", "outbox")]),
    ]
}
