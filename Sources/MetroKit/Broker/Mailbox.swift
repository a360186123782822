import Synchronization

/// State shared between async callers and a client's I/O thread, behind a lock.
/// A class so that both sides hold the same `Mutex`.
final class Mailbox<State: Sendable>: Sendable {
    private let state: Mutex<State>

    init(_ initial: State) { state = Mutex(initial) }

    func withLock<R: Sendable>(_ body: (inout State) -> R) -> R { state.withLock { body(&$0) } }
}
