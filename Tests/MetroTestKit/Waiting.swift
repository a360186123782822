import Foundation

/// What the kit throws when a peer does not do what the test needs: a condition
/// that did not come true in time (`timedOut`, naming what was awaited), or an
/// answer that is not what protocol.md or the OS promised (`unexpected`).
package enum WaitError: Error, CustomStringConvertible {
    case timedOut(String)
    case unexpected(String)

    package var description: String {
        switch self {
        case .timedOut(let what): "timed out waiting for \(what)"
        case .unexpected(let what): "unexpected: \(what)"
        }
    }
}

/// Polls `condition` until it holds, every `interval`, for up to `timeout` (nats'
/// `checkFor`); throws `WaitError.timedOut(what)` after that. Suspends with
/// `Task.sleep` between checks, so no thread of the cooperative pool blocks. For
/// conditions nobody signals (a counter in another process, a file, /proc).
package func eventually(
    _ what: String, timeout: Duration = .seconds(30), interval: Duration = .milliseconds(20),
    _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: interval)
    }
    if try await condition() { return }
    throw WaitError.timedOut(what)
}

/// Like `eventually`, running `action` before each check (e.g. publish until seen).
package func eventually(
    _ what: String, timeout: Duration = .seconds(30), _ condition: () async throws -> Bool,
    while action: () async throws -> Void
) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        try await action()
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(20))
    }
    throw WaitError.timedOut(what)
}

/// `eventually` under the name the older tests use. Its default was 10 s until a
/// full run held a test's process for longer than that at its start (CI of stop
/// 41, docs/performance.md): a bound that is the test's subject is passed explicitly.
package func waitFor(
    _ what: String, timeout: Duration = .seconds(30), interval: Duration = .milliseconds(20),
    _ condition: () async throws -> Bool
) async throws {
    try await eventually(what, timeout: timeout, interval: interval, condition)
}

/// Runs `body`, which blocks (a ZeroMQ receive with a timeout, a TCP read), on a
/// thread of its own and suspends until it returns: the kit's blocking clients
/// never hold a thread of the cooperative pool. Whatever `body` touches must not
/// be used by anyone else meanwhile; a ZeroMQ socket may move between threads
/// this way (thread start and the continuation are full memory barriers, which
/// is all libzmq asks of a socket that migrates).
package func offPool<T: Sendable>(
    _ name: String = "metro-test-io", _ body: @escaping @Sendable () throws -> T
) async throws -> T {
    try await withCheckedThrowingContinuation { (k: CheckedContinuation<T, any Error>) in
        let thread = Thread { k.resume(with: Result { try body() }) }
        thread.name = name
        thread.start()
    }
}
