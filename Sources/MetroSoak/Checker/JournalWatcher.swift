import Foundation
import Logging
import MetroKit
import MetroProtocol
import Synchronization

/// Follows the journal while the soak runs, as `metro tail --from SEQ` does:
/// MetroKit's gap-filling `Subscriber` replays from the start seq, then goes live
/// without a gap or a duplicate at the seam (protocol.md §4.9.1), and fills live
/// gaps from the journal. Every event goes into a `LiveJournalLog`. The final
/// verdicts do not rest on this stream (the checker reads the journal back at the
/// end); it gives the live violation count and the time each upload's outcome
/// was first seen.
///
/// Threading: the subscriber's sockets live on its own I/O thread; `follow` is one
/// task reading its stream; `log` and `stop` from any task.
final class JournalWatcher: Sendable {
    private let subscriber: Subscriber
    private let state = Mutex(LiveJournalLog())
    private let task = Mutex<Task<Void, Never>?>(nil)

    /// Prepares a subscriber of every topic from `fromSeq` (0: the earliest held).
    init(endpoints: SoakEndpoints, fromSeq: UInt64, logger: Logger) throws {
        var options = Subscriber.Options(events: endpoints.events, prefixes: [""])
        options.consume = endpoints.replay
        options.startAt = fromSeq
        options.curve = endpoints.security?.broker
        subscriber = try Subscriber(options, logger: logger)
    }

    /// Starts reading and returns once the subscription is live (the catch-up replay
    /// may still be running).
    func start(timeout: Duration = .seconds(10)) async throws {
        let stream = subscriber.events
        let reading = Task {
            for await event in stream {
                let entry = JournalEntry(event: event)
                let now = UInt64(Date().timeIntervalSince1970 * 1e9)
                self.state.withLock { $0.record(entry, seenAtNs: now) }
            }
        }
        task.withLock { $0 = reading }
        _ = try await subscriber.waitUntilLive(timeout: timeout)
    }

    var log: LiveJournalLog { state.withLock { $0 } }

    /// Waits until an outcome of each of `videos` has been seen, or `timeout`;
    /// returns how many are still without one. A worker ACKs `video.uploaded` to its
    /// group when the outcome is in its outbox, and the outbox relay publishes it
    /// afterwards (after a broker restart, seconds later): drained groups alone do
    /// not mean the outcomes are in the journal.
    func waitForOutcomes(of videos: Set<String>, timeout: Duration) async -> Int {
        let deadline = ContinuousClock.now + timeout
        while true {
            let missing = state.withLock { log in videos.filter { log.outcomeSeenAtNs[$0] == nil }.count }
            if missing == 0 || ContinuousClock.now >= deadline { return missing }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Closes the subscriber; its stream ends and the reading task with it.
    func stop() async {
        await subscriber.close()
        await task.withLock { $0 }?.value
    }
}
