import Foundation
import GRDB
import Logging
import Metrics
import MetroKit
import MetroProtocol
import Synchronization
import ZeroMQ

/// Keeps the runtime's own tables bounded: without it, `metro_inbox` took one
/// row per event handled and `metro_outbox` one row (with the whole payload) per
/// event published, for ever, so a service's database grew with its traffic.
/// A housekeeping task of every instance (`ServiceRuntime` adds it to the
/// service's own), every `Configuration.retentionInterval`, deletes:
///
/// - **inbox rows whose event the journal no longer holds** (their `seq` below the
///   journal's first seq, from the broker's STATS `firstSeq`) **and that were
///   handled longer ago than `inboxRetention`** (8 days). An inbox row must outlive
///   every delivery of its event, and the broker delivers only from its journal,
///   whatever its retention settings: a group that starts again from the start
///   (its `groups.state` lost) gets every event the journal holds, and finds
///   each one's row. A duplicate that came with a newer seq raises its row's seq
///   (`ServiceStore.inboxRaiseSeq`). Rows written before the seq was kept (no
///   `seq`) are never deleted; nor is any while the broker does not answer STATS.
///   The age is a second guard, and keeps recent rows for an operator to look at.
/// - **outbox rows sent longer ago than `outboxRetention`** (1 h). Once the broker
///   ACKed an event, nothing reads its row again but `ServiceStore.awaitPublished`,
///   within one call's deadline. Unsent rows are never deleted.
///
/// Deletes go in transactions of at most `batch` rows, so a handler's commit
/// waits for one short transaction at most. SQLite reuses the freed pages; the
/// file does not shrink (VACUUM would rewrite it whole while holding the writer).
struct RuntimeRetention: Sendable {
    var inbox: Duration
    var outbox: Duration
    var batch = 2_000
    var now: @Sendable () -> Double = { Date().timeIntervalSince1970 }

    /// The rows deleted, per table.
    struct Pruned: Equatable {
        var inbox = 0
        var outbox = 0
    }

    /// `journalFirstSeq`: the broker's STATS `firstSeq`; nil when it did not answer
    /// (no inbox row is deleted then).
    func prune(_ store: ServiceStore, journalFirstSeq: UInt64?) async throws -> Pruned {
        let inboxCutoff = now() - inbox.seconds
        let outboxCutoff = now() - outbox.seconds
        var pruned = Pruned()
        while let firstSeq = journalFirstSeq {
            let n = try await store.pool.write { db in
                try db.execute(
                    sql: """
                        DELETE FROM metro_inbox WHERE (consumer_group, event_id) IN (
                            SELECT consumer_group, event_id FROM metro_inbox
                            WHERE seq < ? AND handled_at < ? LIMIT ?)
                        """, arguments: [Int64(clamping: firstSeq), inboxCutoff, batch])
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

    /// The housekeeping task: asks the broker for its journal's first seq, prunes,
    /// and logs what it deleted.
    func registration(every interval: Duration, broker: BrokerAdminClient) -> HousekeepingRegistration {
        HousekeepingRegistration(name: "retention", interval: interval) { context in
            let firstSeq = await Self.journalFirstSeq(broker, logger: context.logger)
            let pruned = try await prune(context.store, journalFirstSeq: firstSeq)
            guard pruned != Pruned() else { return }
            context.logger.info(
                "retention: deleted old rows",
                metadata: [
                    "inbox": "\(pruned.inbox)", "outbox": "\(pruned.outbox)",
                    "inbox-retention": "\(inbox)", "outbox-retention": "\(outbox)",
                    "journal-first-seq": "\(firstSeq.map { "\($0)" } ?? "unknown")",
                ])
        }
    }

    /// STATS `firstSeq`, on a thread of its own (the admin client blocks); nil
    /// when the broker does not answer or does not say.
    static func journalFirstSeq(_ broker: BrokerAdminClient, logger: Logger) async -> UInt64? {
        let answer = Mutex<Result<BrokerStats, any Error>?>(nil)
        await DedicatedThread.run(name: "metro-retention-stats") {
            answer.withLock { $0 = Result { try broker.stats() } }
        }
        switch answer.withLock({ $0! }) {
        case .success(let stats): return stats.firstSeq
        case .failure(let error):
            logger.info("retention: the broker's STATS did not answer; no inbox row is deleted this time: \(error)")
            return nil
        }
    }

    private static let deleted = [
        "inbox": Counter(label: "metro_service_retention_deleted_total", dimensions: [("table", "inbox")]),
        "outbox": Counter(label: "metro_service_retention_deleted_total", dimensions: [("table", "outbox")]),
    ]
}
