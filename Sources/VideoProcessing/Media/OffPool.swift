import Foundation

/// Runs blocking work (file I/O, hashing, the synthetic CPU step) on a thread of
/// its own and suspends the caller meanwhile, so that it never holds one of the
/// cooperative pool's threads (2 on this class of machine).
public enum OffPool {
    public static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread { continuation.resume(with: Result { try body() }) }
            thread.name = "metro-video-work"
            thread.start()
        }
    }
}
