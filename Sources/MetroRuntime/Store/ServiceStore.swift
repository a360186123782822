public import Foundation
public import GRDB
import Synchronization
import ZeroMQ

#if canImport(Glibc)
    import Glibc
#endif

/// A service's SQLite database: `<data>/<service>/<service>.sqlite`, one GRDB
/// `DatabasePool` in WAL mode with a busy timeout, so that several instances of one
/// service on one host share it (SQLite's file locks serialize their writers; a
/// writer waits up to `busyTimeout` for another's commit instead of failing).
///
/// `read` and `write` are what rpc handlers use; event handlers write through
/// `EventContext.commit`, which adds the inbox row. Every write that published
/// events wakes the outbox relay after its commit.
///
/// Threading: `Sendable`; call from any task. GRDB runs each closure on its own
/// dispatch queues (one writer, a pool of readers) and the async methods suspend
/// meanwhile: no SQLite call runs on, or blocks, the cooperative pool. Opening and
/// migrating run on a dedicated thread for the same reason. One exception to the hop,
/// by choice: an `RpcPlacement.inline` handler's reads run on the rpc socket's own
/// thread (not the pool), which saves the thread wake-ups.
public final class ServiceStore: Sendable {
    /// The database file.
    public let path: String
    let pool: DatabasePool
    /// Woken after each commit that inserted outbox rows.
    let outboxWakes: OutboxWakes
    /// Handlers waiting for the broker's ACK of a row (`awaitPublished`).
    let outboxAcks = OutboxAcks()
    let faults: FaultPoints

    /// Event handlers' inbox commits, grouped (`commitOnce`).
    let inboxCommits: InboxCommits

    init(path: String, pool: DatabasePool, faults: FaultPoints) {
        self.path = path
        self.pool = pool
        let outboxWakes = OutboxWakes()
        self.outboxWakes = outboxWakes
        self.faults = faults
        inboxCommits = InboxCommits(pool: pool) { _ in
            faults.reach(.afterOutboxCommit)
            outboxWakes.wake()
        }
    }

    /// Every commit fsyncs the WAL before it returns (docs/operations.md, "Service
    /// databases"): the runtime ACKs a delivery after its commit, so a commit that
    /// a power loss could undo (GRDB's WAL default, NORMAL) would lose an effect
    /// whose event the broker no longer redelivers.
    static let synchronousFull = "PRAGMA synchronous = FULL"

    /// Opens (creating the folder and file) and migrates: the runtime's tables
    /// first, then the service's `migrations`. Instances starting together take an
    /// exclusive lock on `<service>.migrate.lock` around the migration, so two
    /// processes never apply the same migration at once.
    static func open(
        folder: String, service: String, busyTimeout: Duration, faults: FaultPoints,
        migrations: @escaping @Sendable (inout DatabaseMigrator) -> Void
    ) async throws -> ServiceStore {
        let directory = URL(fileURLWithPath: folder).appendingPathComponent(service)
        let path = directory.appendingPathComponent("\(service).sqlite").path
        let lockPath = directory.appendingPathComponent("\(service).migrate.lock").path
        let result = Mutex<Result<DatabasePool, any Error>?>(nil)
        await DedicatedThread.run(name: "metro-store-open") {
            result.withLock {
                $0 = Result {
                    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
                    var configuration = Configuration()
                    configuration.busyMode = .timeout(busyTimeout.seconds)
                    configuration.label = service
                    configuration.prepareDatabase { db in try db.execute(sql: Self.synchronousFull) }
                    let pool = try DatabasePool(path: path, configuration: configuration)
                    // GRDB sets NORMAL on the writer after `prepareDatabase` ran
                    // (`setUpWALMode`): set FULL again on the writer's connection,
                    // which the pool keeps for its life.
                    try pool.writeWithoutTransaction { db in try db.execute(sql: Self.synchronousFull) }
                    var migrator = DatabaseMigrator()
                    RuntimeSchema.register(&migrator)
                    migrations(&migrator)
                    try withFileLock(lockPath) { try migrator.migrate(pool) }
                    return pool
                }
            }
        }
        do {
            let pool = try result.withLock { $0! }.get()
            return ServiceStore(path: path, pool: pool, faults: faults)
        } catch {
            throw StoreOpenError(path: path, underlying: error)
        }
    }

    /// Reads in a snapshot (WAL: never waits for writers). In an `RpcPlacement.inline`
    /// handler the read runs synchronously on the calling thread (the rpc socket's);
    /// anywhere else on one of GRDB's reader threads while the task waits. (A
    /// `Task {}` started by an inline handler inherits the task-local and would read
    /// in place on whatever thread runs it: start none from one.)
    public func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        if Self.readsInPlace { return try Self.readHere(pool, body) }
        return try await pool.read(body)
    }

    /// Set by the runtime around an inline rpc handler: its reads run in place.
    @TaskLocal static var readsInPlace = false

    /// GRDB's synchronous read (a separate function so that the async overload is not chosen).
    private static func readHere<T>(_ pool: DatabasePool, _ body: (Database) throws -> T) throws -> T {
        try pool.read(body)
    }

    /// Runs `body` in one write transaction; the events it publishes (`tx.publish`)
    /// are sent after the commit. `correlation` is copied into their headers (pass
    /// the rpc call's or the incoming event's).
    public func write<T: Sendable>(
        correlation: EventHeaders = .init(), _ body: @escaping @Sendable (ServiceTransaction) throws -> T
    ) async throws -> T {
        let (value, published) = try await pool.write { db in
            let tx = ServiceTransaction(db: db, correlation: correlation)
            let value = try body(tx)
            return (value, tx.published)
        }
        afterCommit(published: published)
        Self.callWrites?.committed()
        return value
    }

    /// Set by the runtime around an rpc handler: counts the writes of that call that
    /// committed, so that a full disk can be answered "nothing was written" honestly.
    @TaskLocal static var callWrites: CallWrites?

    /// Waits until the broker has acknowledged the event `eventID` (an outbox row
    /// this instance committed, from `ServiceTransaction.publish`), or until
    /// `deadline`; true when it has. Either way the row stays: unsent, the relay
    /// keeps sending it until the broker takes it. For a handler whose answer must
    /// mean "the event is in the broker's journal" (`video.upload`, issue 17);
    /// another instance's relay sending the row is seen at the deadline, from the row.
    public func awaitPublished(_ eventID: String, before deadline: ContinuousClock.Instant) async throws -> Bool {
        let acks = outboxAcks
        var timer: Task<Void, Never>?
        let sent = await acks.wait(for: eventID) { token in
            timer = Task { [self] in
                // Sent before the waiter existed: the row says so (checked after registering).
                if (try? await isSent(eventID)) == true { return acks.resolve(eventID, token: token, true) }
                try? await Task.sleep(until: deadline, clock: .continuous)
                acks.resolve(eventID, token: token, false)
            }
        }
        timer?.cancel()
        if sent { return true }
        return try await isSent(eventID)
    }

    /// Whether the outbox row of `eventID` is marked sent (the broker ACKed it).
    func isSent(_ eventID: String) async throws -> Bool {
        try await pool.read { db in
            try Bool.fetchOne(
                db, sql: "SELECT sent_at IS NOT NULL FROM metro_outbox WHERE event_id = ?", arguments: [eventID])
                ?? false
        }
    }

    /// The inbox write (`EventContext.commit`): inserts (`group`, `eventID`)
    /// into `metro_inbox` and runs `body` in the same transaction. Returns nil
    /// without running `body` when the key is already there (a redelivery). The
    /// commits of handlers running at once share transactions (`InboxCommits`).
    func commitOnce<T: Sendable>(
        group: String, eventID: [UInt8], topic: String, seq: UInt64, correlation: EventHeaders,
        _ body: @escaping @Sendable (ServiceTransaction) throws -> T
    ) async throws -> T? {
        let value = CommitValue<T>()
        let applied = try await withCheckedThrowingContinuation { (done: CheckedContinuation<Bool, any Error>) in
            inboxCommits.submit(
                .init(
                    group: group, eventID: eventID, topic: topic, seq: seq,
                    run: { db in
                        let tx = ServiceTransaction(db: db, correlation: correlation)
                        value.value = try body(tx)
                        return tx.published
                    },
                    finish: { done.resume(with: $0) }))
        }
        return applied ? value.value : nil
    }

    // Prepared once per connection (GRDB's statement cache): parsing and
    // authorizing them took ~3% of an inbox-only worker's CPU per event.
    static let inboxInsert = """
        INSERT OR IGNORE INTO metro_inbox (consumer_group, event_id, topic, handled_at, seq) VALUES (?, ?, ?, ?, ?)
        """
    /// A duplicate (its row was there): the row keeps the highest seq the event came
    /// with, so that it lives as long as any copy of the event is in the journal.
    static let inboxRaiseSeq = """
        UPDATE metro_inbox SET seq = ?3 WHERE consumer_group = ?1 AND event_id = ?2 AND (seq IS NULL OR seq < ?3)
        """
    static let inboxLookup = "SELECT 1 FROM metro_inbox WHERE consumer_group = ? AND event_id = ?"

    /// Whether `eventID`'s effect in `group` has committed (a cheap check before a handler runs).
    func alreadyHandled(group: String, _ eventID: [UInt8]) async throws -> Bool {
        try await pool.read { db in
            try Bool.fetchOne(db.cachedStatement(sql: Self.inboxLookup), arguments: [group, Data(eventID)]) ?? false
        }
    }

    private func afterCommit(published: Int) {
        guard published > 0 else { return }
        faults.reach(.afterOutboxCommit)
        outboxWakes.wake()
    }

    /// Closes the pool (waits for GRDB's queues). After this every access throws.
    func close() async {
        await DedicatedThread.run(name: "metro-store-close") { [pool] in try? pool.close() }
    }
}

/// A handler's commit value, set by its body on GRDB's writer queue and read by
/// the handler's task after the pass's COMMIT resumed it (the continuation
/// orders the two), so never touched by two threads at once.
private final class CommitValue<T>: @unchecked Sendable {
    var value: T?
}

/// Runs `body` holding an exclusive `flock` on `path` (created if missing). Blocks
/// the calling thread while another process holds it: call it off the pool.
/// The database could not be opened or migrated; says which file (SQLite's own
/// text does not), so an operator knows what to restore or move away.
public struct StoreOpenError: Error, CustomStringConvertible {
    public let path: String
    public let underlying: any Error

    public var description: String { "cannot open the service's database \(path): \(underlying)" }
}

private func withFileLock<T>(_ path: String, _ body: () throws -> T) throws -> T {
    let fd = Glibc.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
    defer { Glibc.close(fd) }
    while flock(fd, LOCK_EX) != 0 {
        guard errno == EINTR else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
    }
    defer { flock(fd, LOCK_UN) }
    return try body()
}

extension Duration {
    /// Seconds as a `TimeInterval` (GRDB's busy timeout).
    var seconds: TimeInterval { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

/// How many `ServiceStore.write`s of one rpc call committed (`ServiceStore.callWrites`).
final class CallWrites: Sendable {
    private let count = Atomic<Int>(0)

    func committed() { count.add(1, ordering: .relaxed) }

    /// Whether a write of the call committed (an effect of the call stands).
    var any: Bool { count.load(ordering: .relaxed) > 0 }
}
