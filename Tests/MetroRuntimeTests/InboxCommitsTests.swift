import Foundation
import GRDB
import Synchronization
import Testing

@testable import MetroRuntime

/// Group commit of event handlers (`InboxCommits`): the commits queued while the
/// writer is busy go together in one transaction, each in a savepoint of its own.
/// The writer is held by a first commit whose body waits for a semaphore, so the
/// batch these tests make is the one they mean (no timing).
@Suite struct InboxCommitsTests {
    typealias Boom = ServiceStoreTests.Boom

    /// Counts the writer's COMMITs.
    final class Commits: TransactionObserver, @unchecked Sendable {
        private let count = Mutex(0)
        var value: Int { count.withLock { $0 } }
        func observes(eventsOfKind eventKind: DatabaseEventKind) -> Bool { true }
        func databaseDidChange(with event: DatabaseEvent) {}
        func databaseDidCommit(_ db: Database) { count.withLock { $0 += 1 } }
        func databaseDidRollback(_ db: Database) {}
    }

    static func counting(_ store: ServiceStore) async throws -> Commits {
        let commits = Commits()
        try await store.pool.writeWithoutTransaction { db in
            db.add(transactionObserver: commits, extent: .databaseLifetime)
        }
        return commits
    }

    /// Holds the writer in a commit of its own until `release()`; returns once
    /// that commit is running.
    final class Blocker: Sendable {
        let entered = DispatchSemaphore(value: 0)
        let gate = DispatchSemaphore(value: 0)
        let task: Task<Void, any Error>

        init(_ store: ServiceStore) async {
            let entered = self.entered
            let gate = self.gate
            task = Task {
                _ = try await store.commitOnce(
                    group: "g", eventID: Array("blocker".utf8), topic: "t", seq: 1, correlation: .init()
                ) { _ in
                    entered.signal()
                    gate.wait()
                }
            }
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                DispatchQueue.global().async {
                    entered.wait()
                    c.resume()
                }
            }
        }

        func release() async throws {
            gate.signal()
            try await task.value
        }
    }

    static func waitQueued(_ store: ServiceStore, _ n: Int) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while store.inboxCommits.queued < n {
            guard ContinuousClock.now < deadline else { throw Boom() }
            try await Task.sleep(for: .milliseconds(2))
        }
    }

    /// 200 handlers' commits in one transaction: one in seven throws and is
    /// rolled back alone (no effect, no inbox row); a second job with an id that an
    /// earlier job of the same batch took is a duplicate; every other effect commits once.
    @Test func queuedCommitsShareOneTransactionAndAFailingOneRollsBackAlone() async throws {
        try await ServiceStoreTests.withStore { store in
            let commits = try await Self.counting(store)
            let blocker = await Self.blocker(store)
            let ids = (0..<200).map { $0 % 180 }  // ids 0..<20 come twice
            let results = Task {
                await withTaskGroup(of: (Int, Result<Int?, any Error>).self) { group in
                    for (job, id) in ids.enumerated() {
                        group.addTask {
                            do {
                                let value = try await store.commitOnce(
                                    group: "g", eventID: Array("e-\(id)".utf8), topic: "t", seq: 1, correlation: .init()
                                ) { tx -> Int in
                                    try tx.db.execute(sql: "INSERT INTO said VALUES (?)", arguments: ["e-\(id)"])
                                    if id % 7 == 3 { throw Boom() }
                                    return job
                                }
                                return (id, .success(value))
                            } catch {
                                return (id, .failure(error))
                            }
                        }
                    }
                    var all: [(Int, Result<Int?, any Error>)] = []
                    for await r in group { all.append(r) }
                    return all
                }
            }
            try await Self.waitQueued(store, ids.count)
            let before = commits.value
            try await blocker.release()
            let all = await results.value
            #expect(commits.value - before == 2, "the blocker's commit, then one for all 200")

            let failing = Set((0..<180).filter { $0 % 7 == 3 })
            var applied: [Int: Int] = [:]
            for (id, r) in all {
                switch r {
                case .success(let v?): applied[id, default: 0] += 1; _ = v
                case .success(nil): #expect(!failing.contains(id))
                case .failure(let e): #expect(failing.contains(id) && e is Boom, "e-\(id): \(e)")
                }
            }
            #expect(applied.keys.sorted() == (0..<180).filter { !failing.contains($0) })
            #expect(applied.values.allSatisfy { $0 == 1 })
            let said = try await store.read { try String.fetchAll($0, sql: "SELECT text FROM said ORDER BY text") }
            #expect(said == applied.keys.map { "e-\($0)" }.sorted())
            for id in failing {
                #expect(try await !store.alreadyHandled(group: "g", Array("e-\(id)".utf8)))
            }
        }
    }

    /// A job whose statement makes SQLite abort the whole transaction (`INSERT OR
    /// ROLLBACK` on a taken key, as a full disk or an I/O error would): every job
    /// of that pass fails and leaves nothing, and the next pass works.
    @Test func aJobThatAbortsTheTransactionFailsItsWholePass() async throws {
        try await ServiceStoreTests.withStore { store in
            let blocker = await Self.blocker(store)
            func commit(_ id: String, _ sql: String) -> Task<Int?, any Error> {
                Task {
                    try await store.commitOnce(
                        group: "g", eventID: Array(id.utf8), topic: "t", seq: 1, correlation: .init()
                    ) {
                        tx in
                        try tx.db.execute(sql: sql)
                        return 1
                    }
                }
            }
            let a = commit("a", "INSERT INTO said VALUES ('a')")
            try await Self.waitQueued(store, 1)
            let b = commit("b", "INSERT OR ROLLBACK INTO keys VALUES ('k'); INSERT OR ROLLBACK INTO keys VALUES ('k')")
            try await Self.waitQueued(store, 2)
            let c = commit("c", "INSERT INTO said VALUES ('c')")
            try await Self.waitQueued(store, 3)
            try await blocker.release()
            for (name, job) in [("a", a), ("b", b), ("c", c)] {
                await #expect(throws: DatabaseError.self, "\(name)") { try await job.value }
            }
            #expect(try await store.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM said") } == 0)
            #expect(try await store.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM keys") } == 0)
            for id in ["a", "b", "c"] { #expect(try await !store.alreadyHandled(group: "g", Array(id.utf8))) }
            // Redelivered, they commit.
            #expect(try await commit("a", "INSERT INTO said VALUES ('a')").value == 1)
            #expect(try await commit("c", "INSERT INTO said VALUES ('c')").value == 1)
            #expect(try await store.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM said") } == 2)
        }
    }

    static func blocker(_ store: ServiceStore) async -> Blocker { await Blocker(store) }
}
