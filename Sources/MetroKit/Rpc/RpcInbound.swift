public import Logging
public import MetroProtocol

/// One decoded call, as `RpcServer` hands it to a handler on the handler's task.
public struct RpcInbound: Sendable {
    public let method: String
    /// The frame request id (§6.2); the reply carries it back.
    public let requestID: [UInt8]
    public let headers: RpcHeaders
    /// The request body, opaque bytes (JSON for `RpcRouter`'s typed methods).
    public let body: [UInt8]
    /// When the server's I/O thread read the call.
    public let receivedAt: ContinuousClock.Instant
    /// `receivedAt` plus the caller's `deadline-ms`: no handler starts at or after it.
    public let deadline: ContinuousClock.Instant
    /// The server's logger.
    public let logger: Logger

    public init(
        method: String, requestID: [UInt8], headers: RpcHeaders, body: [UInt8],
        receivedAt: ContinuousClock.Instant, deadline: ContinuousClock.Instant, logger: Logger
    ) {
        self.method = method
        self.requestID = requestID
        self.headers = headers
        self.body = body
        self.receivedAt = receivedAt
        self.deadline = deadline
        self.logger = logger
    }

    /// The context a typed handler gets (logger metadata: method, request id).
    public var context: RpcContext {
        RpcContext(method: method, requestID: requestID, headers: headers, deadline: deadline, logger: logger)
    }
}

/// A raw handler's answer: the REPLY body, or the ERROR to send.
public enum RpcOutcome: Hashable, Sendable {
    case reply([UInt8])
    case error(WireError)
}

/// The raw handler an `RpcServer` runs for every call it accepts, on a task of its
/// own (never on the I/O thread). It must answer every call; it may block nothing.
public typealias RpcHandler = @Sendable (RpcInbound) async -> RpcOutcome
