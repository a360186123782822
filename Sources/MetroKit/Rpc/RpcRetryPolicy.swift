/// What happened to one attempt of a call that did not end with a reply.
enum RpcAttemptFailure: Hashable, Sendable {
    /// The connection to the instance broke (or the instance left the registry) while
    /// the call was out: the handler may or may not have run.
    case disconnected
    /// No answer before the call's deadline.
    case timedOut
    /// The connection's send queue was full: the call never left this process.
    case notSent
    /// The instance's ZAP handler refused this client's CURVE key (with this ZAP
    /// status): the call never left this process, and never will to that instance.
    case keyRefused(Int32)
    /// The instance answered ERROR with this code (protocol.md §3.2, §6).
    case remote(UInt16)

    /// Whether the failure says the *instance* is unwell, for its circuit breaker:
    /// transport failures, 107 internal-error, 109 unavailable, 402 overloaded, 408
    /// wrong-instance (the endpoint is another process's now). The
    /// caller's and the domain's errors (400, 403–406) and 401 (the caller's budget ran
    /// out) prove the instance answers, and count as successes.
    var countsAgainstInstance: Bool {
        switch self {
        case .disconnected, .timedOut, .notSent, .keyRefused: true
        case .remote(let code): code == 107 || code == 109 || code == 402 || code == 408
        }
    }

    /// Whether the server said it did not start the handler, so that sending the call
    /// elsewhere is safe even for a method that is not idempotent.
    var certainlyNotRun: Bool {
        switch self {
        case .remote(let code): code == 109 || code == 402 || code == 408
        case .notSent, .keyRefused: true
        case .disconnected, .timedOut: false
        }
    }
}

/// When a failed call is sent again, to another instance. Pure.
///
/// Only idempotent methods are retried after a failure that may have run the handler
/// (a disconnect, 107 internal-error). A refusal that proves the handler never started
/// (402 overloaded, 109 unavailable while draining, 408 wrong-instance) is retried for any method: that
/// cannot do anything twice. A timeout is never retried (the deadline is spent), and
/// neither is any other remote answer (it would be the same elsewhere).
struct RpcRetryPolicy: Hashable, Sendable {
    /// Attempts per call, the first included.
    var maxAttempts: Int
    /// A retry is not started with less than this left of the deadline.
    var minimumBudget: Duration

    init(maxAttempts: Int = 3, minimumBudget: Duration = .milliseconds(2)) {
        precondition(maxAttempts >= 1)
        self.maxAttempts = maxAttempts
        self.minimumBudget = minimumBudget
    }

    func shouldRetry(
        _ failure: RpcAttemptFailure, idempotent: Bool, attemptsMade: Int, remaining: Duration
    ) -> Bool {
        guard attemptsMade < maxAttempts, remaining >= minimumBudget else { return false }
        if failure.certainlyNotRun { return true }
        switch failure {
        case .disconnected: return idempotent
        case .remote(let code): return idempotent && code == 107
        case .timedOut, .notSent, .keyRefused: return false
        }
    }
}
