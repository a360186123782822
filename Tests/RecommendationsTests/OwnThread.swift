import Foundation

/// Runs `body` on a thread of its own and awaits its result. For the few unit tests
/// that compute for seconds in a debug build (the offline evaluation): a synchronous
/// test holds one of the cooperative pool's threads (two on a 2-core machine) for as
/// long, and the system tests running beside it then wait for a thread.
func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
    }
}
