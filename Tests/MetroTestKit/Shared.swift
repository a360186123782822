import Synchronization

/// A value shared between test tasks and threads, behind a lock.
package final class Locked<T: Sendable>: Sendable {
    private let mutex: Mutex<T>
    package init(_ value: T) { mutex = Mutex(value) }
    /// Runs `body` with the value, holding the lock; keep it short and non-blocking.
    package func withLock<R: Sendable>(_ body: (inout T) -> R) -> R { mutex.withLock { body(&$0) } }
}

/// Carries a non-`Sendable` value (a ZeroMQ socket) to the one thread that will
/// own it from then on. The sender must not touch the value afterwards.
package struct Transfer<T>: @unchecked Sendable {
    package let value: T
    package init(_ value: T) { self.value = value }
}
