internal import CZeroMQ

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The one error type of the `ZeroMQ` module: a failed libzmq call, with the
/// errno that libzmq reported, its message, and the operation that failed.
///
/// "Would block" and "timed out" are not errors on the paths where they are
/// expected (non-blocking and timed receives return `nil`); they only appear
/// here when a blocking call was interrupted by a configured timeout on send.
public struct ZMQError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A stable classification of the errno, for `switch`ing on.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        enum Base: Hashable, Sendable {
            case contextTerminated, wouldBlock, hostUnreachable, addressInUse, addressNotAvailable
            case invalidArgument, notSupported, protocolNotSupported, invalidState, noSuchDevice
            case tooManyOpenFiles, messageTooLarge, other
        }
        let base: Base

        /// The context is shutting down (ETERM): end the loop and close the socket.
        public static let contextTerminated = Code(base: .contextTerminated)
        /// EAGAIN where the caller asked for a blocking call with a send timeout.
        public static let wouldBlock = Code(base: .wouldBlock)
        /// ROUTER-mandatory: the peer's routing id is unknown (EHOSTUNREACH).
        public static let hostUnreachable = Code(base: .hostUnreachable)
        /// The endpoint is already bound (EADDRINUSE).
        public static let addressInUse = Code(base: .addressInUse)
        /// The endpoint names an address this host does not have (EADDRNOTAVAIL).
        public static let addressNotAvailable = Code(base: .addressNotAvailable)
        /// A malformed endpoint, option value or argument (EINVAL).
        public static let invalidArgument = Code(base: .invalidArgument)
        /// The operation is not supported by this socket type (ENOTSUP).
        public static let notSupported = Code(base: .notSupported)
        /// The endpoint's transport is unknown (EPROTONOSUPPORT).
        public static let protocolNotSupported = Code(base: .protocolNotSupported)
        /// The socket's state machine forbids the call now, e.g. REQ sending twice (EFSM).
        public static let invalidState = Code(base: .invalidState)
        /// The endpoint names no existing interface or inproc peer (ENODEV / ECONNREFUSED).
        public static let noSuchDevice = Code(base: .noSuchDevice)
        /// The process ran out of file descriptors (EMFILE).
        public static let tooManyOpenFiles = Code(base: .tooManyOpenFiles)
        /// A message exceeded a size limit (EMSGSIZE).
        public static let messageTooLarge = Code(base: .messageTooLarge)
        /// Anything else; see `ZMQError.errno`.
        public static let other = Code(base: .other)

        /// The code's name (`wouldBlock`, `contextTerminated`, ...), for logs.
        public var description: String { "\(base)" }

        static func from(errno e: Int32) -> Code {
            switch e {
            case ETERM: .contextTerminated
            case EAGAIN: .wouldBlock
            case EHOSTUNREACH: .hostUnreachable
            case EADDRINUSE: .addressInUse
            case EADDRNOTAVAIL: .addressNotAvailable
            case EINVAL: .invalidArgument
            case ENOTSUP: .notSupported
            case EPROTONOSUPPORT: .protocolNotSupported
            case EFSM: .invalidState
            case ENODEV, ECONNREFUSED: .noSuchDevice
            case EMFILE: .tooManyOpenFiles
            case EMSGSIZE: .messageTooLarge
            default: .other
            }
        }
    }

    /// What went wrong, as a value to switch on (`.wouldBlock` is not a failure on
    /// non-blocking paths; `.contextTerminated` means "close your socket and leave").
    public let code: Code
    /// The raw errno that libzmq reported.
    public let errno: Int32
    /// What Metro was doing: `"bind tcp://127.0.0.1:5555"`, `"send"`, ...
    public let operation: String
    /// libzmq's own text for the errno (`zmq_strerror`).
    public let message: String

    init(errno: Int32, operation: String) {
        self.errno = errno
        self.code = .from(errno: errno)
        self.operation = operation
        self.message = String(cString: zmq_strerror(errno))
    }

    /// An error raised by the wrapper itself for a value libzmq would misread.
    init(invalidArgument reason: String, operation: String) {
        self.errno = EINVAL
        self.code = .invalidArgument
        self.operation = operation
        self.message = reason
    }

    /// `operation: message (errno n)`, for logs and thrown-error output.
    public var description: String { "\(operation): \(message) (errno \(errno))" }
}
