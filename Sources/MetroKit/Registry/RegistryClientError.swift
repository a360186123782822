import MetroProtocol

/// The one error type of MetroKit's registry client: the registry refused (with a
/// wire error), could not be reached within the retry budget, broke the protocol,
/// or the client was closed.
public struct RegistryClientError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        enum Base: Hashable, Sendable { case rejected, unreachable, protocolViolation, closed }
        let base: Base

        /// The registry answered ERROR; see `wireError`.
        public static let rejected = Code(base: .rejected)
        /// No reply within `attempts` × `timeout`, on any endpoint (Lazy Pirate gave up).
        public static let unreachable = Code(base: .unreachable)
        /// The reply was not a registry reply (§5.3), or its body did not decode.
        public static let protocolViolation = Code(base: .protocolViolation)
        /// The client was closed before or while the request ran.
        public static let closed = Code(base: .closed)

        public var description: String { "\(base)" }
    }

    public let code: Code
    /// The registry's error, when `code == .rejected`.
    public let wireError: WireError?
    /// The command that failed.
    public let command: RegistryCommand
    /// Human-readable detail (endpoints tried, attempts, what broke).
    public let message: String

    init(_ code: Code, command: RegistryCommand, message: String, wireError: WireError? = nil) {
        self.code = code
        self.command = command
        self.message = message
        self.wireError = wireError
    }

    static func rejected(_ e: WireError, command: RegistryCommand) -> Self {
        Self(.rejected, command: command, message: e.description, wireError: e)
    }

    /// The registry's wire error code, when it answered ERROR.
    public var wireCode: WireErrorCode? { wireError?.code }

    public var description: String { "registry \(command.rawValue) \(code): \(message)" }
}
