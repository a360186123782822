import GRDB
import Synchronization

/// Group commit for event handlers (`ServiceStore.commitOnce`): the inbox commits
/// that arrive while one transaction is being written share the next one, each in
/// a SAVEPOINT of its own. N handlers running at once (a subscription's
/// `concurrency`, 8 by default) then cost one write transaction and one WAL fsync
/// (synchronous=FULL) instead of N, without giving up anything per event:
///
/// - a handler whose body throws has its savepoint rolled back, inbox row
///   included, so its event is redelivered and runs again; the others commit;
/// - a transaction that fails to commit fails every job in it: nothing of any of
///   them is stored, and each handler NAKs as before;
/// - a job's caller resumes only after the transaction that holds it committed,
///   so "ACK after the commit" still holds.
///
/// At low load a transaction holds one job, as before. One writer task at a time
/// drains the queue; it starts when a job arrives and none runs.
///
/// Threading: `Sendable`; `submit` from any task.
final class InboxCommits: Sendable {
    struct Job: Sendable {
        /// The job's part, inside the shared transaction (it opens its own savepoint).
        let run: @Sendable (Database) -> Void
        /// After the transaction ended: nil when it committed, else why it did not.
        let finish: @Sendable ((any Error)?) -> Void
    }

    private struct Queue: ~Copyable {
        var jobs: [Job] = []
        var writing = false
    }

    private let queue = Mutex(Queue())
    private let pool: DatabasePool
    /// Transactions written and jobs they held (tests, metrics).
    private let counts = Mutex((transactions: 0, jobs: 0))

    init(pool: DatabasePool) { self.pool = pool }

    var written: (transactions: Int, jobs: Int) { counts.withLock { $0 } }

    /// Queues `job`; the first job while no writer runs starts one.
    func submit(_ job: Job) {
        let lead = queue.withLock { q -> Bool in
            q.jobs.append(job)
            guard !q.writing else { return false }
            q.writing = true
            return true
        }
        if lead { Task { await self.writeAll() } }
    }

    /// Writes the queued jobs, a transaction per round, until the queue is empty.
    private func writeAll() async {
        while true {
            let jobs = queue.withLock { q -> [Job] in
                let taken = q.jobs
                q.jobs = []
                if taken.isEmpty { q.writing = false }
                return taken
            }
            guard !jobs.isEmpty else { return }
            do {
                try await pool.write { db in for job in jobs { job.run(db) } }
                counts.withLock { $0 = ($0.transactions + 1, $0.jobs + jobs.count) }
                for job in jobs { job.finish(nil) }
            } catch {
                for job in jobs { job.finish(error) }
            }
        }
    }
}
