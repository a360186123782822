/// The one numbered catalogue of errors that Metro sends on the wire
/// (protocol.md §3, like nats-server's errors.json). Numbers never change
/// meaning; new errors take new numbers. 1xx: any socket; 2xx: broker; 3xx: registry;
/// 4xx: rpc (§6.4).
public enum WireErrorCode: UInt16, Sendable, CaseIterable, CustomStringConvertible {
    // 1xx: framing, common to every request socket.
    case unsupportedVersion = 100
    case malformedMessage = 101
    case unknownCommand = 102
    case invalidUTF8 = 103
    case invalidJSON = 104
    case tooLarge = 105
    case invalidTopic = 106
    case internalError = 107
    case invalidArgument = 108
    case unavailable = 109
    /// The connection's identity may not do this (protocol.md §7.8).
    case forbidden = 110

    // 2xx: broker.
    case missingEventID = 200
    case journalFailure = 201
    case unknownGroup = 202
    case unknownDelivery = 203
    case sequenceOutOfRange = 204
    case storageFailure = 205
    /// A replay reached a journal record whose bytes fail their checksum or framing;
    /// the second context frame is its seq, by the segment's index (protocol.md §4.9).
    case damagedRecord = 206

    // 3xx: registry.
    case unknownInstance = 300
    case staleEpoch = 301
    case invalidServiceName = 302
    case invalidEndpoint = 303
    case ttlOutOfRange = 304
    case instanceConflict = 305

    // 4xx: rpc (§6.4).
    case unknownMethod = 400
    case deadlineExceeded = 401
    case overloaded = 402
    case badRequest = 403
    case notFound = 404
    case conflict = 405
    case handlerFailed = 406
    case publishPending = 407
    /// The REQUEST's `target` header names another incarnation than the server's: the
    /// caller reached an endpoint another process now holds (protocol.md §6.3).
    case wrongInstance = 408

    /// The short, stable name used in logs and metrics labels.
    public var name: String {
        switch self {
        case .unsupportedVersion: "unsupported-version"
        case .malformedMessage: "malformed-message"
        case .unknownCommand: "unknown-command"
        case .invalidUTF8: "invalid-utf8"
        case .invalidJSON: "invalid-json"
        case .tooLarge: "too-large"
        case .invalidTopic: "invalid-topic"
        case .internalError: "internal-error"
        case .invalidArgument: "invalid-argument"
        case .unavailable: "unavailable"
        case .forbidden: "forbidden"
        case .missingEventID: "missing-event-id"
        case .journalFailure: "journal-failure"
        case .unknownGroup: "unknown-group"
        case .unknownDelivery: "unknown-delivery"
        case .sequenceOutOfRange: "sequence-out-of-range"
        case .storageFailure: "storage-failure"
        case .damagedRecord: "damaged-record"
        case .unknownInstance: "unknown-instance"
        case .staleEpoch: "stale-epoch"
        case .invalidServiceName: "invalid-service-name"
        case .invalidEndpoint: "invalid-endpoint"
        case .ttlOutOfRange: "ttl-out-of-range"
        case .instanceConflict: "instance-conflict"
        case .unknownMethod: "unknown-method"
        case .deadlineExceeded: "deadline-exceeded"
        case .overloaded: "overloaded"
        case .badRequest: "bad-request"
        case .notFound: "not-found"
        case .conflict: "conflict"
        case .handlerFailed: "handler-failed"
        case .publishPending: "publish-pending"
        case .wrongInstance: "wrong-instance"
        }
    }

    /// `number name` (`205 storage-failure`), as logs and protocol.md write it.
    public var description: String { "\(rawValue) \(name)" }

    /// The code as it travels: three ASCII digits.
    package var frame: [UInt8] { Array(String(rawValue).utf8) }

    package init?(frame: [UInt8]) {
        guard frame.count == 3, let text = String(validating: frame, as: UTF8.self),
            let n = UInt16(text), let code = WireErrorCode(rawValue: n)
        else { return nil }
        self = code
    }
}

/// An error as sent to a peer: a catalogue code and a human-readable message.
public struct WireError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The catalogue code (protocol.md §3.2): switch on it, never on `message`.
    public let code: WireErrorCode
    /// The peer's explanation, for people; not stable, not to be parsed.
    public let message: String

    /// An error to send or to compare with; `message` is free text.
    public init(_ code: WireErrorCode, _ message: String) {
        self.code = code
        self.message = message
    }

    /// `number name: message`, for logs.
    public var description: String { "\(code): \(message)" }
}
