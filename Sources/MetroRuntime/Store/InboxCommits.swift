import Foundation
import GRDB
import Synchronization

/// Group commit for event handlers' inbox commits (`ServiceStore.commitOnce`):
/// the commits that arrive while one is being written go together in the next
/// transaction, with one fsync for all of them.
///
/// Why: with `synchronous = FULL` the fsync is most of a cheap handler's cost
/// (~110 µs of CPU per event here, and half its rate: docs/performance.md, "What
/// a group commit could still buy"). An idle worker pays nothing for it: a commit
/// that finds no transaction in progress is written at once, alone.
///
/// How:
/// - `submit` queues the job; if no pass is scheduled it schedules one on GRDB's
///   writer queue (`asyncWriteWithoutTransaction`).
/// - A pass takes every queued job and writes them in one IMMEDIATE transaction,
///   each in a SAVEPOINT of its own: its inbox row, then its body. A job whose
///   body throws is rolled back alone (its inbox row with it) and gets its error;
///   a job whose id is in the inbox already gets "duplicate" and runs nothing.
/// - If SQLite aborts the whole transaction (a full disk, an I/O error) or the
///   COMMIT fails, every job of the pass gets the error: nothing of it is stored.
/// - Jobs get their outcome only after the COMMIT returned, so no ACK goes out
///   before its effect is durable.
/// - One pass per turn of the writer queue: jobs that arrived meanwhile get the
///   next pass, scheduled behind whatever else waits for the writer (an rpc
///   handler's `write`), so a stream of events never starves other writes.
///
/// Threading: `submit` from any thread; passes run on GRDB's writer queue; each
/// job's `finish` is called there, once.
final class InboxCommits: Sendable {
    struct Job: Sendable {
        let group: String
        let eventID: [UInt8]
        let topic: String
        /// The event's journal seq (the delivery's).
        let seq: UInt64
        /// The handler's body, inside the job's savepoint after its inbox row is in;
        /// returns how many outbox rows it inserted.
        let run: @Sendable (Database) throws -> Int
        /// The outcome: true applied, false a duplicate (the body did not run).
        let finish: @Sendable (Result<Bool, any Error>) -> Void
    }

    private let pool: DatabasePool
    /// After a COMMIT whose jobs published events, with their count.
    private let committed: @Sendable (Int) -> Void
    private let state = Mutex(Pending())

    private struct Pending {
        var queue: [Job] = []
        var scheduled = false
    }

    init(pool: DatabasePool, committed: @escaping @Sendable (Int) -> Void) {
        self.pool = pool
        self.committed = committed
    }

    /// Jobs waiting for the next pass (for tests).
    var queued: Int { state.withLock { $0.queue.count } }

    func submit(_ job: Job) {
        let schedule = state.withLock { s in
            s.queue.append(job)
            if s.scheduled { return false }
            s.scheduled = true
            return true
        }
        if schedule { pool.asyncWriteWithoutTransaction { [self] db in pass(db) } }
    }

    private func pass(_ db: Database) {
        let batch = state.withLock { s in
            let jobs = s.queue
            s.queue.removeAll(keepingCapacity: true)
            return jobs
        }
        write(batch, db)
        let again = state.withLock { s in
            if s.queue.isEmpty { s.scheduled = false }
            return s.scheduled
        }
        if again { pool.asyncWriteWithoutTransaction { [self] db in pass(db) } }
    }

    private func write(_ batch: [Job], _ db: Database) {
        var outcomes: [Result<Bool, any Error>] = []
        outcomes.reserveCapacity(batch.count)
        var published = 0
        do {
            try db.inTransaction(.immediate) {
                for job in batch {
                    var added = 0
                    var applied = false
                    do {
                        try db.inSavepoint {
                            try db.cachedStatement(sql: ServiceStore.inboxInsert).execute(
                                arguments: [
                                    job.group, Data(job.eventID), job.topic, Date().timeIntervalSince1970,
                                    Int64(bitPattern: job.seq),
                                ])
                            guard db.changesCount == 1 else {
                                try db.cachedStatement(sql: ServiceStore.inboxRaiseSeq).execute(
                                    arguments: [job.group, Data(job.eventID), Int64(bitPattern: job.seq)])
                                return .commit
                            }
                            added = try job.run(db)
                            applied = true
                            return .commit
                        }
                        published += added
                        outcomes.append(.success(applied))
                    } catch {
                        // SQLite rolled the whole transaction back: nothing of the pass
                        // stands. (GRDB also refuses every later statement of the block
                        // then, with SQLITE_ABORT; this says so here rather than rely on it.)
                        guard db.isInsideTransaction else { throw error }
                        outcomes.append(.failure(error))
                    }
                }
                return .commit
            }
        } catch {
            for job in batch { job.finish(.failure(error)) }
            return
        }
        if published > 0 { committed(published) }
        for (job, outcome) in zip(batch, outcomes) { job.finish(outcome) }
    }
}
