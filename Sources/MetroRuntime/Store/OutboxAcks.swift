import Synchronization

/// Who waits for the broker's ACK of which outbox row: an rpc handler that must
/// not answer before its event is in the broker's journal (`video.upload`:
/// issue 17, "the upload is published acknowledged") registers its row's event
/// id here; the relay, once the broker ACKed rows, resumes their waiters, and
/// again once the rows are marked sent. A waiter whose deadline comes first is resumed with
/// false and removed; the row stays in the outbox and the relay still sends it.
///
/// Registering before checking the row (`ServiceStore.awaitPublished`) closes
/// the race with a relay that marks the row sent in between: whichever comes
/// second sees the other.
///
/// Threading: `Sendable`; every method holds the lock for a few instructions.
final class OutboxAcks: Sendable {
    private struct Waiters {
        var byEvent: [String: [UInt64: CheckedContinuation<Bool, Never>]] = [:]
        var nextToken: UInt64 = 0
    }

    private let waiters = Mutex(Waiters())

    /// Suspends until `resolve(eventID, token:, true)` or `published([eventID])`
    /// resumes it; `register` gets the waiter's token at once, before any suspension
    /// can be resumed (call `resolve` with it for the deadline or a row already sent).
    func wait(for eventID: String, register: (UInt64) -> Void) async -> Bool {
        await withCheckedContinuation { c in
            let token = waiters.withLock { w in
                w.nextToken += 1
                w.byEvent[eventID, default: [:]][w.nextToken] = c
                return w.nextToken
            }
            register(token)
        }
    }

    /// Resumes one waiter (no effect when it was resumed already).
    func resolve(_ eventID: String, token: UInt64, _ sent: Bool) {
        let c = waiters.withLock { w -> CheckedContinuation<Bool, Never>? in
            let c = w.byEvent[eventID]?.removeValue(forKey: token)
            if w.byEvent[eventID]?.isEmpty == true { w.byEvent[eventID] = nil }
            return c
        }
        c?.resume(returning: sent)
    }

    /// The broker ACKed these rows (and the relay may have marked them sent): their
    /// waiters resume with true.
    func published(_ eventIDs: [String]) {
        let resumed = waiters.withLock { w -> [CheckedContinuation<Bool, Never>] in
            guard !w.byEvent.isEmpty else { return [] }
            return eventIDs.flatMap { w.byEvent.removeValue(forKey: $0).map { Array($0.values) } ?? [] }
        }
        for c in resumed { c.resume(returning: true) }
    }
}
