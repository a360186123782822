public import Logging
import Synchronization

/// What an event handler gets besides the event: its logger (metadata `event-id`,
/// `topic`) and `commit`, the one way it changes state.
///
/// Threading: `Sendable`; the handler's task calls it.
public struct EventContext: Sendable {
    public let logger: Logger
    /// For reads; writes go through `commit`.
    public let store: ServiceStore
    let group: String
    let eventID: [UInt8]
    let topic: String
    /// The delivery's journal seq (kept with the inbox row, for the retention).
    let seq: UInt64
    /// The incoming event's `requestId`/`traceparent`, copied into what `commit` publishes.
    let correlation: EventHeaders
    let state: CommitState

    /// Runs `body` in one write transaction that first records the event id (with
    /// the handler's group) in the inbox (`metro_inbox`). If the id is already there (a redelivery whose effect
    /// committed), `body` does not run and `commit` returns nil; the runtime ACKs the
    /// delivery either way once the handler returns. Call it at most once per event;
    /// a handler that never calls it gets an inbox-only commit after it returns.
    @discardableResult
    public func commit<T: Sendable>(_ body: @escaping @Sendable (ServiceTransaction) throws -> T) async throws -> T? {
        precondition(state.begin(), "EventContext.commit called twice for one event")
        do {
            let result = try await store.commitOnce(
                group: group, eventID: eventID, topic: topic, seq: seq, correlation: correlation, body)
            state.end(result != nil ? .applied : .duplicate)
            return result
        } catch {
            state.end(.failed, storage: StorageFault.isTransient(error))
            throw error
        }
    }
}

/// Whether and how a handler's `commit` went: the runtime reads it after the handler.
final class CommitState: Sendable {
    /// `failed`: the transaction threw (rolled back); nothing of it is stored.
    enum Phase: Sendable, Equatable { case none, running, applied, duplicate, failed }
    private let phase = Mutex((phase: Phase.none, storage: false))

    /// Marks the commit as started; false if one was already made.
    func begin() -> Bool {
        phase.withLock { p in
            guard p.phase == .none else { return false }
            p.phase = .running
            return true
        }
    }

    /// `storage`: the commit failed with a `StorageFault` (the handler may have
    /// swallowed that error; the runtime still holds and retries the delivery).
    func end(_ outcome: Phase, storage: Bool = false) { phase.withLock { $0 = (outcome, storage) } }

    var current: Phase { phase.withLock { $0.phase } }

    /// Whether the commit failed because the storage refused it.
    var storageFailed: Bool { phase.withLock { $0.storage } }
}
