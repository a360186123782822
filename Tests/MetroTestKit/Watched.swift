import Synchronization

/// A value that threads change and async code waits on: the bridge between the
/// kit's reader threads (or Foundation's child-exit handler) and a test's
/// `await`. A wait suspends on a continuation that `update` resumes once the
/// condition holds, so no thread of the cooperative pool blocks and no wait
/// polls.
///
/// Threading: every method from any thread or task. Conditions run under the
/// lock: keep them cheap and free of side effects.
package final class Watched<Value: Sendable>: Sendable {
    private struct Waiter {
        let condition: @Sendable (Value) -> Bool
        let continuation: CheckedContinuation<Bool, Never>
    }

    private struct State {
        var value: Value
        var waiters: [Int: Waiter] = [:]
        /// Ids handed out whose continuation is not registered yet; a cancellation
        /// that comes first moves the id to `cancelled`.
        var pending: Set<Int> = []
        var cancelled: Set<Int> = []
        var nextID = 0
    }

    private let state: Mutex<State>

    package init(_ value: Value) { state = Mutex(State(value: value)) }

    /// The value now.
    package var value: Value { state.withLock { $0.value } }

    /// Changes the value and resumes every waiter whose condition now holds.
    package func update(_ body: (inout Value) -> Void) {
        let resumed = state.withLock { s -> [CheckedContinuation<Bool, Never>] in
            body(&s.value)
            var ready: [CheckedContinuation<Bool, Never>] = []
            for (id, w) in s.waiters where w.condition(s.value) {
                ready.append(w.continuation)
                s.waiters[id] = nil
            }
            return ready
        }
        for k in resumed { k.resume(returning: true) }
    }

    /// Suspends until `condition` holds (true), or `timeout` passes or the task is
    /// cancelled (false, unless the condition holds by then).
    package func wait(timeout: Duration, until condition: @escaping @Sendable (Value) -> Bool) async -> Bool {
        if condition(value) { return true }
        let met = await withTaskGroup(of: Bool.self) { group in
            group.addTask { await self.suspend(until: condition) }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
        return met || condition(value)
    }

    private func suspend(until condition: @escaping @Sendable (Value) -> Bool) async -> Bool {
        let id = state.withLock { s in
            s.nextID += 1
            s.pending.insert(s.nextID)
            return s.nextID
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (k: CheckedContinuation<Bool, Never>) in
                let now = state.withLock { s -> Bool? in
                    s.pending.remove(id)
                    if s.cancelled.remove(id) != nil { return false }
                    if condition(s.value) { return true }
                    s.waiters[id] = Waiter(condition: condition, continuation: k)
                    return nil
                }
                if let now { k.resume(returning: now) }
            }
        } onCancel: {
            let k = state.withLock { s -> CheckedContinuation<Bool, Never>? in
                if let w = s.waiters.removeValue(forKey: id) { return w.continuation }
                if s.pending.remove(id) != nil { s.cancelled.insert(id) }
                return nil
            }
            k?.resume(returning: false)
        }
    }
}
