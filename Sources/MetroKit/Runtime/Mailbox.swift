import Synchronization

/// State that a client's I/O thread publishes for async callers to read (a head seq,
/// counters), behind a lock. Commands go through the `IOThread`'s queue instead.
/// A class so that both sides hold the same `Mutex`.
final class Mailbox<State: Sendable>: Sendable {
    private let state: Mutex<State>

    init(_ initial: State) { state = Mutex(initial) }

    func withLock<R: Sendable>(_ body: (inout State) -> R) -> R { state.withLock { body(&$0) } }
}
