import Foundation

/// Runs blocking `work` (a ZeroMQ request with a receive timeout, like
/// `BrokerAdminClient`) on a thread of its own, so that it never holds a
/// thread of Swift's cooperative pool while it waits.
func offThePool<T: Sendable>(_ name: String, _ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try work() }) }
        thread.name = name
        thread.start()
    }
}
