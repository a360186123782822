/// Who waits for the outcome of one event handed to the `PublisherLoop`: a single
/// `publish` (its own continuation) or one member of a `publish(batch:)`. The loop
/// calls `resume` exactly once per event, on its I/O thread.
enum PublishReply: Sendable {
    case one(CheckedContinuation<UInt64, any Error>)
    case member(BatchReply, index: Int)

    /// I/O thread (or the `IOThread`'s end handler): hands `result` to the waiter.
    func resume(_ result: Result<UInt64, any Error>) {
        switch self {
        case .one(let continuation): continuation.resume(with: result)
        case .member(let batch, let index): batch.set(index, result)
        }
    }
}

/// The outcomes of one `publish(batch:)`, gathered event by event; resumes its
/// caller once, when the last one is known.
///
/// `@unchecked Sendable`: made by the caller, then touched only by the publisher's
/// I/O thread (and, after that thread has ended, by its end handler), never by two
/// threads at once.
final class BatchReply: @unchecked Sendable {
    private var results: [Result<UInt64, any Error>?]
    private var remaining: Int
    private let continuation: CheckedContinuation<[Result<UInt64, any Error>], Never>

    /// `count` must be at least 1.
    init(count: Int, continuation: CheckedContinuation<[Result<UInt64, any Error>], Never>) {
        precondition(count > 0, "a batch reply needs at least one event")
        results = Array(repeating: nil, count: count)
        remaining = count
        self.continuation = continuation
    }

    /// Records the outcome of event `index`; a second outcome for one event is ignored.
    func set(_ index: Int, _ result: Result<UInt64, any Error>) {
        guard results[index] == nil else { return }
        results[index] = result
        remaining -= 1
        if remaining == 0 { continuation.resume(returning: results.map { $0! }) }
    }
}
