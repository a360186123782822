import Synchronization

/// Wake-ups for the outbox relay: `wake()` from any thread after a commit; the relay
/// awaits `next(timeout:)`. Wakes coalesce (one pending at most), so a burst of
/// commits costs the relay one pass.
final class OutboxWakes: Sendable {
    private let stream: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation

    init() {
        (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    func wake() { continuation.yield() }

    /// The wake-ups; one consumer (the relay).
    var wakes: AsyncStream<Void> { stream }

    func finish() { continuation.finish() }
}
