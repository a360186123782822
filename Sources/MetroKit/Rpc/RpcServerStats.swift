import Metrics

/// What an `RpcServer` has done, as its I/O thread last published it (`RpcServer.stats`).
public struct RpcServerStats: Hashable, Sendable {
    /// Messages read from the socket, good and bad.
    public var requests: UInt64 = 0
    /// Answers sent, by code: `"ok"` for REPLY, else the three-digit error code.
    public var replies: [String: UInt64] = [:]
    /// Messages that were not a usable REQUEST (§6.3), each answered with its error.
    public var badFrames: UInt64 = 0
    /// Calls refused by `Options.authorizeMethod` (110: the identity may not call the method).
    public var forbidden: UInt64 = 0
    /// Calls meant for another incarnation (answered 408, handler not run).
    public var wrongInstance: UInt64 = 0
    /// Calls answered 402 because `maxConcurrent` handlers were running.
    public var overloaded: UInt64 = 0
    /// Calls whose deadline passed before their handler could start (answered 401, handler not run).
    public var expiredBeforeStart: UInt64 = 0
    /// Answers ZeroMQ would not take (the caller disconnected, or its queue was full).
    public var dropped: UInt64 = 0
    /// Handlers running now.
    public var inFlight = 0
    /// Whether the server answers new calls 109 (`drain()` or graceful shutdown).
    public var draining = false

    public init() {}
}

/// The server's swift-metrics counters; made and used on its I/O thread.
struct RpcServerMetrics {
    let requests = Counter(label: "metro_rpc_server_requests_total")
    let badFrames = Counter(label: "metro_rpc_server_bad_frames_total")
    let overloaded = Counter(label: "metro_rpc_server_overloaded_total")
    let dropped = Counter(label: "metro_rpc_server_dropped_total")
    private var replies: [String: Counter] = [:]

    /// Counts one answer, labelled `code="ok"` or `code="402"`.
    mutating func reply(_ code: String) {
        if replies[code] == nil {
            replies[code] = Counter(label: "metro_rpc_server_replies_total", dimensions: [("code", code)])
        }
        replies[code]!.increment()
    }
}
