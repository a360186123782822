import Foundation
import MetroProtocol

/// An event of one of the service's groups that the broker gave up on
/// (protocol.md §4.10, "Dead letters"): its `maxDeliveries`-th delivery failed
/// (NAK, ACK timeout, or the member handling it was lost) or a handler rejected
/// it. The broker publishes it again on `$metro.dead.<group>` with the original
/// id and payload; its headers say what happened. `ServiceDefinition.onDeadLetters`
/// hands these to a handler, so that a service can settle what the event was
/// about (the video service fails the video whose job was given up) instead of
/// leaving it half done with the dead letter as the only trace.
public struct DeadLetter<Payload: Sendable>: Sendable {
    /// The original event's payload, decoded.
    public let payload: Payload
    /// The original event's topic and seq.
    public let topic: String
    public let seq: UInt64
    /// The original event's id (the dead letter keeps it).
    public let eventID: [UInt8]
    /// The group that gave up on it.
    public let group: String
    public let reason: Reason
    /// How many times it was delivered, the last included.
    public let deliveries: Int
    /// The REJECT's reason text, for `.rejected` (possibly empty).
    public let detail: String?
    /// The dead letter's own seq.
    public let deadLetterSeq: UInt64

    /// `eventID` as text.
    public var id: String { EventIDText.describe(eventID) }

    /// Why the broker gave up (the header `reason`).
    public enum Reason: Sendable, Equatable, CustomStringConvertible {
        /// The last delivery was not ACKed within the group's ACK timeout.
        case ackTimeout
        /// The last delivery was NAKed (the handler threw, or its worker was stopping).
        case nak
        /// The member holding the last delivery was lost (killed, stopped, cut off).
        case memberLost
        /// A handler rejected it (`EventRejection`, or a payload it could not read).
        case rejected
        /// A reason this runtime does not know (a newer broker).
        case other(String)

        init(_ text: String) {
            switch text {
            case "ack-timeout": self = .ackTimeout
            case "nak": self = .nak
            case "member-lost": self = .memberLost
            case "rejected": self = .rejected
            default: self = .other(text)
            }
        }

        /// The header's text.
        public var description: String {
            switch self {
            case .ackTimeout: "ack-timeout"
            case .nak: "nak"
            case .memberLost: "member-lost"
            case .rejected: "rejected"
            case .other(let text): text
            }
        }
    }

    /// One sentence for people (a status's reason, a log line): what happened to
    /// the last delivery, and how many there were.
    public var explanation: String {
        let times = deliveries == 1 ? "1 delivery" : "\(deliveries) deliveries"
        switch reason {
        case .ackTimeout: return "given up after \(times): the last was not finished within the group's ACK timeout"
        case .nak: return "given up after \(times): the last failed (NAK)"
        case .memberLost:
            return "given up after \(times): the worker handling the last was lost (killed or stopped during it)"
        case .rejected:
            let why = detail.map { $0.isEmpty ? "" : ": \($0)" } ?? ""
            return "rejected after \(times)\(why)"
        case .other(let text): return "given up after \(times) (\(text))"
        }
    }
}

/// The headers frame of a dead letter (protocol.md §4.10): a JSON object of string
/// members `deliveries`, `group`, `reason`, `seq`, `topic`, and `detail` for a
/// rejected event. Read strictly: a dead letter that is not one is refused.
struct DeadLetterHeaders: Equatable, Sendable {
    var group: String
    var reason: String
    var topic: String
    var seq: UInt64
    var deliveries: Int
    var detail: String?

    /// The topic on which the broker publishes `group`'s dead letters.
    static func topic(of group: String) -> String { "$metro.dead.\(group)" }

    static func decode(_ bytes: [UInt8]) -> Result<DeadLetterHeaders, EventHeaders.HeadersError> {
        guard String(validating: bytes, as: UTF8.self) != nil else {
            return .failure(.init("dead-letter headers are not UTF-8"))
        }
        guard case .object(let object)? = try? StrictJSON.parse(bytes) else {
            return .failure(.init("dead-letter headers are not a JSON object"))
        }
        func string(_ key: String) -> String? {
            if case .string(let s)? = object[key] { return s }
            return nil
        }
        guard let group = string("group"), let reason = string("reason"), let topic = string("topic") else {
            return .failure(.init("dead-letter headers lack a string group, reason or topic"))
        }
        guard let seqText = string("seq"), let seq = UInt64(seqText), let countText = string("deliveries"),
            let deliveries = Int(countText), deliveries >= 1
        else {
            return .failure(.init("dead-letter headers lack a decimal seq or deliveries"))
        }
        if object["detail"] != nil, string("detail") == nil {
            return .failure(.init("dead-letter headers.detail is not a string"))
        }
        return .success(
            DeadLetterHeaders(
                group: group, reason: reason, topic: topic, seq: seq, deliveries: deliveries, detail: string("detail")))
    }
}
