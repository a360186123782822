internal import CZeroMQ

/// The ZeroMQ socket patterns Metro uses.
public enum SocketType: Sendable, CaseIterable, CustomStringConvertible {
    case pair, pub, sub, req, rep, dealer, router, pull, push, xpub, xsub

    var raw: Int32 {
        switch self {
        case .pair: ZMQ_PAIR
        case .pub: ZMQ_PUB
        case .sub: ZMQ_SUB
        case .req: ZMQ_REQ
        case .rep: ZMQ_REP
        case .dealer: ZMQ_DEALER
        case .router: ZMQ_ROUTER
        case .pull: ZMQ_PULL
        case .push: ZMQ_PUSH
        case .xpub: ZMQ_XPUB
        case .xsub: ZMQ_XSUB
        }
    }

    /// The libzmq name (`ROUTER`, `XPUB`, ...), as protocol.md and the logs write it.
    public var description: String {
        switch self {
        case .pair: "PAIR"
        case .pub: "PUB"
        case .sub: "SUB"
        case .req: "REQ"
        case .rep: "REP"
        case .dealer: "DEALER"
        case .router: "ROUTER"
        case .pull: "PULL"
        case .push: "PUSH"
        case .xpub: "XPUB"
        case .xsub: "XSUB"
        }
    }
}

/// Flags for one send.
public struct SendFlags: OptionSet, Sendable {
    /// The `ZMQ_SNDMORE`/`ZMQ_DONTWAIT` bits passed to `zmq_msg_send`.
    public let rawValue: Int32
    /// Flags from raw libzmq bits.
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// More frames of the same message follow (`ZMQ_SNDMORE`).
    public static let more = SendFlags(rawValue: ZMQ_SNDMORE)
    /// Return instead of blocking (`ZMQ_DONTWAIT`).
    public static let dontWait = SendFlags(rawValue: ZMQ_DONTWAIT)
}
