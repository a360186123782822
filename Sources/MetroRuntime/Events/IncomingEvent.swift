public import Foundation

/// One event handed to a service's handler: the decoded payload and where it came from.
public struct IncomingEvent<Payload: Sendable>: Sendable {
    public let payload: Payload
    public let topic: String
    /// The publisher's event id (the inbox key), 1–64 bytes.
    public let eventID: [UInt8]
    /// The broker's sequence number.
    public let seq: UInt64
    /// 1 for the first delivery, more for redeliveries.
    public let attempt: UInt32
    /// The group's maximum deliveries (the broker's JOINED): an event NAKed at that
    /// attempt is dead-lettered. Nil if the broker did not say.
    public let maxDeliveries: Int?
    public let headers: EventHeaders
    /// When the broker stamped it.
    public let time: Date

    /// `eventID` as text (it is a UUID for events from Metro publishers).
    public var id: String { EventIDText.describe(eventID) }

    /// Whether this is the group's last delivery: a handler that would throw (NAK)
    /// may decide the outcome itself instead of leaving the event to the dead-letter
    /// topic (the video service fails a job whose tool was killed on every attempt).
    public var isLastAttempt: Bool { maxDeliveries.map { Int(attempt) >= $0 } ?? false }
}

/// A handler's verdict that an event can never be handled (a permanent error): the
/// runtime sends it to the dead-letter topic at once with `reason`, instead of
/// redelivering it (docs/operations.md, "Service workers"). Any other error is retried.
public struct EventRejection: Error, Sendable, CustomStringConvertible {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { "rejected: \(reason)" }
}

enum EventIDText {
    /// UTF-8 ids as they are; others in hex (log metadata must be text).
    static func describe(_ id: [UInt8]) -> String {
        if let s = String(validating: id, as: UTF8.self) { return s }
        return "0x"
            + id.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }
            .joined()
    }
}
