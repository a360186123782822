import Foundation
import Synchronization
import UnixSignals

/// Ctrl-C (or SIGTERM) during `metro publish`: stop sending, give the events in
/// flight `grace` to be acknowledged, then stop waiting for them; a second
/// signal stops waiting at once. The summary then says how many were sent, how
/// many acknowledged and how many went without an answer (those may or may not
/// be in the journal), and the command exits 130.
///
/// Why: a `--count 100000` stream stopped with Ctrl-C died at once with the
/// default signal action: no summary, and nothing said what was stored.
final class PublishInterruption: Sendable {
    private let stopped = Atomic<Bool>(false)
    private let watcher = Mutex<Task<Void, Never>?>(nil)

    /// Whether a signal came: the stream sends nothing more.
    var isSet: Bool { stopped.load(ordering: .acquiring) }

    /// Traps SIGINT and SIGTERM until `finish()`; `giveUp` stops waiting for the
    /// events in flight (cancels the sending task) once the grace has passed, or at
    /// a second signal.
    func watch(
        inFlight: @escaping @Sendable () -> Int, grace: Duration, giveUp: @escaping @Sendable () -> Void
    ) async {
        let signals = await UnixSignalsSequence(trapping: .sigint, .sigterm)
        let task = Task { [self] in
            var cancelAfterGrace: Task<Void, Never>?
            for await _ in signals {
                if stopped.exchange(true, ordering: .acquiringAndReleasing) {
                    giveUp()
                    break
                }
                let waiting = inFlight()
                let seconds = Double(grace.components.seconds) + Double(grace.components.attoseconds) / 1e18
                let text =
                    waiting == 0
                    ? "\ninterrupted: sending no more\n"
                    : "\ninterrupted: sending no more; waiting up to \(String(format: "%g", seconds)) s for the ACKs of the \(waiting) in flight (again to stop now)\n"
                FileHandle.standardError.write(Data(text.utf8))
                cancelAfterGrace = Task {
                    try? await Task.sleep(for: grace)
                    if !Task.isCancelled { giveUp() }
                }
            }
            cancelAfterGrace?.cancel()
        }
        watcher.withLock { $0 = task }
    }

    /// Stops trapping (the stream ended).
    func finish() {
        watcher.withLock { $0?.cancel() }
    }
}
