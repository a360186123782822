public import MetroProtocol

/// The one error type of MetroKit's clients (publisher, subscriber, consumer, admin
/// client, registry client), shaped like swift-service-lifecycle's
/// `ServiceGroupError`: a `code` over a closed set, plus context.
///
/// A caller that must turn any error into one answer (the gateway's HTTP status)
/// needs only `category`: every code, and for `.rejected` the peer's wire error code,
/// falls in exactly one of
///
/// | category | meaning | HTTP |
/// |---|---|---|
/// | `invalid` | the request itself is wrong (a field, a size, a topic): do not retry it | 400 |
/// | `notFound` | the entity the request names does not exist (rpc 404 not-found) | 404 |
/// | `rejected` | refused on its merits in the current state (a conflict, an unknown instance, a stale epoch, a range no longer held) | 409 |
/// | `unavailable` | the peer or this client cannot serve now (closed, unreachable, overloaded, no instance, an open circuit, a broken connection or reply): retry later or elsewhere | 503 |
/// | `timeout` | no answer within the time allowed; the request may or may not have taken effect | 504 |
public struct MetroClientError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong, as a closed set; compare with `==` (`error.code == .closed`).
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case closed, timedOut, unreachable, rejected, protocolViolation, invalidArgument
            case noInstance, deadlineExceeded, overloaded, circuitOpen, disconnected, cancelled
        }
        private let base: Base

        /// The client was closed before or while the request ran.
        public static let closed = Code(base: .closed)
        /// No answer in time: an acknowledged publish without ACK, a broker that sent no
        /// hello, an admin request without reply.
        public static let timedOut = Code(base: .timedOut)
        /// No reply within the retry budget on any endpoint (registry Lazy Pirate); rpc:
        /// the instance could not be connected to (or its send queue was full) and no
        /// other was left. Nothing was sent.
        public static let unreachable = Code(base: .unreachable)
        /// The peer answered ERROR; see `wireError`.
        public static let rejected = Code(base: .rejected)
        /// The reply was not what protocol.md says (frames, or a body that does not decode).
        public static let protocolViolation = Code(base: .protocolViolation)
        /// The client refused the request before sending it (e.g. an event id of 0 or more than 64 bytes).
        public static let invalidArgument = Code(base: .invalidArgument)
        /// rpc: the registry knows no instance of the service (or every one was tried).
        public static let noInstance = Code(base: .noInstance)
        /// rpc: the call's deadline passed, here or at the server (401, then `wireError` is set).
        /// The handler may or may not have run.
        public static let deadlineExceeded = Code(base: .deadlineExceeded)
        /// rpc: every instance tried was at its concurrency bound (402, in `wireError`).
        /// Nothing ran; retry later.
        public static let overloaded = Code(base: .overloaded)
        /// rpc: every instance left has an open circuit breaker; no call was sent.
        public static let circuitOpen = Code(base: .circuitOpen)
        /// rpc: the connection to the instance broke (or the instance left the registry)
        /// while the call was out, and the method is not idempotent, so it was not
        /// sent again. The handler may or may not have run.
        public static let disconnected = Code(base: .disconnected)
        /// rpc: the caller's task was cancelled; the client stopped waiting. The handler
        /// may or may not have run.
        public static let cancelled = Code(base: .cancelled)

        /// The code's name (`timed-out`, `rejected`, ...), for logs.
        public var description: String {
            switch base {
            case .closed: "closed"
            case .timedOut: "timed-out"
            case .unreachable: "unreachable"
            case .rejected: "rejected"
            case .protocolViolation: "protocol-violation"
            case .invalidArgument: "invalid-argument"
            case .noInstance: "no-instance"
            case .deadlineExceeded: "deadline-exceeded"
            case .overloaded: "overloaded"
            case .circuitOpen: "circuit-open"
            case .disconnected: "disconnected"
            case .cancelled: "cancelled"
            }
        }
    }

    /// How a caller should treat the error; see the table in the type's documentation.
    public enum Category: String, Hashable, Sendable, CaseIterable {
        case invalid, notFound, rejected, unavailable, timeout

        /// The one HTTP status of the category (the table above).
        public var httpStatus: Int {
            switch self {
            case .invalid: 400
            case .notFound: 404
            case .rejected: 409
            case .unavailable: 503
            case .timeout: 504
            }
        }
    }

    /// What went wrong; `category` says how to react.
    public let code: Code
    /// The operation that failed: "publish", "consume", "registry LOOKUP", ...
    public let operation: String
    /// Human-readable detail (endpoints tried, attempts, what broke).
    public let message: String
    /// The peer's error, when `code == .rejected`.
    public let wireError: WireError?

    /// Builds an error by hand (tests, or a layer that wraps MetroKit and keeps its
    /// error type); `wireError` only with `.rejected`.
    public init(_ code: Code, operation: String, message: String, wireError: WireError? = nil) {
        self.code = code
        self.operation = operation
        self.message = message
        self.wireError = wireError
    }

    /// The peer answered `error`.
    public static func rejected(_ error: WireError, operation: String) -> Self {
        Self(.rejected, operation: operation, message: error.message, wireError: error)
    }

    /// The client was closed.
    public static func closed(_ operation: String) -> Self {
        Self(.closed, operation: operation, message: "the client is closed")
    }

    /// The peer's wire error code, when it answered ERROR.
    public var wireCode: WireErrorCode? { wireError?.code }

    /// How to react, from `code` and, for `.rejected`, the wire code (protocol.md
    /// §3.2): `invalid` means fix the request, `rejected` a state conflict, `unavailable`
    /// retry later, `timeout` the outcome is unknown. The gateway maps it to HTTP.
    public var category: Category {
        if code == .timedOut || code == .deadlineExceeded { return .timeout }
        if code == .invalidArgument { return .invalid }
        guard code == .rejected, let wire = wireCode else { return .unavailable }
        return Self.category(of: wire)
    }

    /// The category of a wire error code (protocol.md §3.2).
    static func category(of wire: WireErrorCode) -> Category {
        switch wire {
        case .internalError, .unavailable, .journalFailure, .storageFailure, .overloaded, .publishPending,
            .wrongInstance:
            .unavailable
        case .unknownGroup, .unknownDelivery, .sequenceOutOfRange, .damagedRecord, .unknownInstance, .staleEpoch,
            .instanceConflict, .conflict, .handlerFailed:
            .rejected
        case .notFound: .notFound
        case .unsupportedVersion, .malformedMessage, .unknownCommand, .invalidUTF8, .invalidJSON, .tooLarge,
            .invalidTopic, .invalidArgument, .missingEventID, .invalidServiceName, .invalidEndpoint, .ttlOutOfRange,
            .unknownMethod, .badRequest, .forbidden:
            .invalid
        case .deadlineExceeded: .timeout
        }
    }

    /// `operation code: detail` (the wire error when the peer answered ERROR), for logs.
    public var description: String {
        if let wireError { return "\(operation) \(code): \(wireError)" }
        return "\(operation) \(code): \(message)"
    }
}
