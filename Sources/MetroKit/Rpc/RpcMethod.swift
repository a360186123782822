public import Logging
public import MetroProtocol

/// One rpc method as both sides know it (protocol.md §6): its name, its request and
/// response types (JSON on the wire), and whether a retry is safe. Declare it once,
/// in a module both the server and its callers import:
///
///     let getProfile = RpcMethod<GetProfile, Profile>("profile.get", idempotent: true)
public struct RpcMethod<Request: Codable & Sendable, Response: Codable & Sendable>: Sendable {
    /// 1–128 bytes of `A-Z a-z 0-9 . _ -` (§6.2).
    public let name: String
    /// Whether calling it twice has the effect of calling it once: only then may a
    /// caller retry it on another instance after a failure that leaves the outcome unknown.
    public let idempotent: Bool

    /// Traps on a name that breaks §6.2: a method is declared in code, so a bad name is a programmer error.
    public init(_ name: String, idempotent: Bool = false) {
        self.name = declaredMethodName(name)
        self.idempotent = idempotent
    }
}

/// `name`, after trapping if it breaks §6.2 (every kind of method declaration does).
func declaredMethodName(_ name: String) -> String {
    precondition(RpcLimits.validateMethod(Array(name.utf8)) == nil, "invalid rpc method name \"\(name)\"")
    return name
}

/// What a handler throws to answer with a specific code (§6.4). Any other error is
/// answered 107 `internal-error` with the error's description.
public struct RpcError: Error, Hashable, Sendable, CustomStringConvertible {
    public var code: WireErrorCode
    public var message: String

    public init(_ code: WireErrorCode, _ message: String) {
        self.code = code
        self.message = message
    }

    /// 404: the entity the call names does not exist.
    public static func notFound(_ message: String) -> Self { Self(.notFound, message) }
    /// 405: a uniqueness or version conflict (optimistic concurrency).
    public static func conflict(_ message: String) -> Self { Self(.conflict, message) }
    /// 403: the request decoded but a field is invalid.
    public static func badRequest(_ message: String) -> Self { Self(.badRequest, message) }
    /// 406: a permanent failure the handler explains itself; retrying will not help.
    public static func failed(_ message: String) -> Self { Self(.handlerFailed, message) }
    /// 407: the handler's effect is committed, but the broker has not acknowledged
    /// the event it published in time (it refuses publishes, e.g. a full disk); the
    /// event stays in the outbox and is published later. Not retried by clients.
    public static func publishPending(_ message: String) -> Self { Self(.publishPending, message) }
    /// 401: the handler saw its deadline pass (`RpcContext.deadline`) and gave up.
    public static func deadlineExceeded(_ message: String) -> Self { Self(.deadlineExceeded, message) }

    public var wireError: WireError { WireError(code, message) }
    public var description: String { "\(code): \(message)" }
}

/// What a handler gets with its request. Made by `RpcServer` on a handler's task.
public struct RpcContext: Sendable {
    /// The method called.
    public let method: String
    /// The frame request id: it pairs the reply with the call on one connection only.
    public let requestID: [UInt8]
    /// The end-to-end correlation id (`headers.requestId`), e.g. the gateway's X-Request-Id.
    public let correlationID: String?
    /// The caller's trace context (`headers.traceparent`); pass it on into published events.
    public let traceparent: String?
    /// The caller's deadline, on this process's clock: receipt plus `deadline-ms`.
    /// A handler that runs long SHOULD check it and throw `RpcError.deadlineExceeded`.
    public let deadline: ContinuousClock.Instant
    /// The server's logger with `method` and `request-id` (the correlation id, else
    /// the frame id, as text or hex) in its metadata.
    public var logger: Logger

    public init(
        method: String, requestID: [UInt8], headers: RpcHeaders, deadline: ContinuousClock.Instant, logger: Logger
    ) {
        self.method = method
        self.requestID = requestID
        correlationID = headers.requestID
        traceparent = headers.traceparent
        self.deadline = deadline
        var logger = logger
        logger[metadataKey: "method"] = .string(method)
        logger[metadataKey: "request-id"] = .string(headers.requestID ?? Self.printable(requestID))
        self.logger = logger
    }

    /// A frame request id as a log line can carry it: as text when every byte is
    /// printable ASCII (a pyzmq caller's "r-1"), else in hex (MetroKit's ids are 8
    /// bytes of a counter, whose zeros would otherwise go into the log raw).
    static func printable(_ id: [UInt8]) -> String {
        if id.allSatisfy({ (0x21...0x7E).contains($0) }) { return String(decoding: id, as: UTF8.self) }
        return id.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }
            .joined()
    }

    /// The time left before the deadline (negative once it passed).
    public var remaining: Duration { deadline - .now }
}
