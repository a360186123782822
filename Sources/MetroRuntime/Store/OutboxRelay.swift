import Foundation
import GRDB
import Logging
import MetroKit
import Synchronization

/// Publishes the outbox: unsent rows of `metro_outbox`, in `seq` order,
/// with the Publisher's acknowledged publish and the row's `event_id` as the
/// event id, up to `batch` rows in flight at once, then marks the ACKed ones sent. One relay per instance; it passes when woken
/// after a commit, at start (rows a crash left), and every `pollInterval` (rows
/// another instance on the same database committed and did not send).
///
/// A crash between the broker's ACK and the row's `sent_at` makes the next pass
/// send the row again: the broker's dedupe window answers with the first seq, so
/// the event is in the journal once. Two instances sending one row: the same.
///
/// Threading: `run()` in one task. The Publisher's socket is on its I/O thread;
/// the SQL runs on GRDB's queues.
final class OutboxRelay: Sendable {
    struct Row: Sendable {
        var seq: Int64
        var eventID: String
        var topic: String
        var headers: [UInt8]
        var payload: [UInt8]
    }

    private let store: ServiceStore
    private let publisher: Publisher
    private let logger: Logger
    private let pollInterval: Duration
    /// Rows per pass step: the Publisher's default window, so a step's rows are all
    /// in flight at once (a larger window would hold more unsent rows in memory).
    private let batch = 256
    private let stopping = Atomic<Bool>(false)

    init(store: ServiceStore, publisher: Publisher, pollInterval: Duration = .seconds(1), logger: Logger) {
        self.store = store
        self.publisher = publisher
        self.pollInterval = pollInterval
        self.logger = logger
    }

    /// Passes until `stop()`: after each commit wake-up and every `pollInterval`.
    func run() async {
        let wakes = store.outboxWakes
        await withTaskGroup(of: Void.self) { tasks in
            tasks.addTask { [pollInterval] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: pollInterval)
                    wakes.wake()
                }
            }
            wakes.wake()  // rows left by a crash or by another instance
            for await _ in wakes.wakes {
                if stopping.load(ordering: .relaxed) { break }
                await pass()
            }
            tasks.cancelAll()
        }
    }

    /// Ends `run()` after its current pass.
    func stop() {
        stopping.store(true, ordering: .relaxed)
        store.outboxWakes.wake()
    }

    /// Graceful shutdown: waits until a pass has left nothing unsent, or `timeout`.
    /// Returns the rows still unsent (0: flushed).
    func flush(timeout: Duration) async -> Int {
        let deadline = ContinuousClock.now + timeout
        store.outboxWakes.wake()
        while ContinuousClock.now < deadline && !Task.isCancelled {
            if let pending = try? await unsentCount(), pending == 0 { return 0 }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return (try? await unsentCount()) ?? -1
    }

    /// Sends unsent rows, a batch at a time, until none is left or a publish fails.
    /// A batch's rows go to the Publisher in one `publish(batch:)`: all in flight at
    /// once and in outbox order on the wire (one broker round trip, one journal sync,
    /// instead of one per row); the ACKed ones are marked sent in one transaction.
    private func pass() async {
        do {
            while !stopping.load(ordering: .relaxed) {
                let rows = try await store.read { [batch] db in
                    try Row.fetchUnsent(db, limit: batch)
                }
                if rows.isEmpty { break }
                let results = try await publisher.publish(batch: rows.map(\.event))
                let outcome = BatchOutcome(rows: rows, results: results)
                // The broker has them: their waiters need not wait for the mark, which
                // a full disk can refuse (the row then goes again, deduplicated by the
                // broker). Again after the mark, for a waiter that registered and found
                // the row unmarked in between (`OutboxAcks`).
                store.outboxAcks.published(outcome.sentEventIDs)
                try await markSent(outcome.sent)
                store.outboxAcks.published(outcome.sentEventIDs)
                // A row that failed stays unsent for the next pass (its later rows may
                // be journaled already: order holds for first sends, not retries).
                if let failure = outcome.firstFailure { throw failure }
                if rows.count < batch { break }
            }
            RuntimeMetrics.outboxPending(try await unsentCount())
        } catch {
            // The broker unreachable past the publisher's give-up time, or the
            // database busy: the next wake-up (at most `pollInterval` away) retries.
            logger.warning("outbox relay: pass failed; retrying", metadata: ["error": "\(error)"])
            if let n = try? await unsentCount() { RuntimeMetrics.outboxPending(n) }
        }
    }

    /// Marks `seqs` sent, all in one transaction.
    private func markSent(_ seqs: [Int64]) async throws {
        guard !seqs.isEmpty else { return }
        try await store.pool.write { db in
            let now = Date().timeIntervalSince1970
            let update = try db.cachedStatement(sql: "UPDATE metro_outbox SET sent_at = ? WHERE seq = ?")
            for seq in seqs { try update.execute(arguments: [now, seq]) }
        }
    }

    private func unsentCount() async throws -> Int {
        try await store.read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM metro_outbox WHERE sent_at IS NULL") ?? 0
        }
    }
}

/// What one batch's publish did, row by row: the seqs to mark sent (ACKed) and
/// the first failure (those rows stay unsent).
struct BatchOutcome {
    var sent: [Int64] = []
    /// The event ids of `sent`, for the handlers waiting on them (`OutboxAcks`).
    var sentEventIDs: [String] = []
    var firstFailure: (any Error)?

    init(rows: [OutboxRelay.Row], results: [Result<UInt64, any Error>]) {
        for (row, result) in zip(rows, results) {
            switch result {
            case .success:
                sent.append(row.seq)
                sentEventIDs.append(row.eventID)
            case .failure(let error): if firstFailure == nil { firstFailure = error }
            }
        }
    }
}

extension OutboxRelay.Row {
    /// The row as the event the relay publishes: its `event_id` is the event id.
    var event: Publisher.Event {
        Publisher.Event(topic: topic, payload: payload, headers: headers, eventID: Array(eventID.utf8))
    }

    static func fetchUnsent(_ db: Database, limit: Int) throws -> [Self] {
        try GRDB.Row.fetchAll(
            db,
            sql: """
                SELECT seq, event_id, topic, headers, payload FROM metro_outbox
                WHERE sent_at IS NULL ORDER BY seq LIMIT ?
                """, arguments: [limit]
        ).map { r in
            let headers: Data = r["headers"]
            let payload: Data = r["payload"]
            return Self(
                seq: r["seq"], eventID: r["event_id"], topic: r["topic"], headers: [UInt8](headers),
                payload: [UInt8](payload))
        }
    }
}
