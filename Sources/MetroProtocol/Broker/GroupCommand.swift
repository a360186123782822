/// The consumer-group commands of the consume socket (protocol.md §4.10). The raw
/// value is the command frame, upper-case ASCII.
package enum GroupCommand: String, Sendable, CaseIterable {
    case join = "JOIN"
    case grant = "GRANT"
    case ack = "ACK"
    case nak = "NAK"
    case extend = "EXTEND"
    /// Ends a delivery at once on the dead-letter topic, with a reason (§4.10).
    case reject = "REJECT"
    case heartbeat = "HEARTBEAT"
    case leave = "LEAVE"
    /// Ends a set of deliveries and grants credit, in one message (§4.10.2).
    case acks = "ACKS"
    /// Removes a group that has no member, with its position and pending set (§4.10.3).
    case delete = "DELETE"
    /// Moves a group past the damaged record it stopped at, named by its seq (§4.10.4).
    case skipDamaged = "SKIP-DAMAGED"

    /// The command frame as it travels.
    package var frame: [UInt8] { Array(rawValue.utf8) }

    /// The number of frames a request of this command has, version and command included.
    package var frameCount: Int {
        switch self {
        case .join: 6
        case .nak, .extend, .reject, .acks: 5
        case .grant, .ack, .skipDamaged: 4
        case .heartbeat, .leave, .delete: 3
        }
    }

    /// The command named by a command frame, if it is a group command.
    package init?(frame: UnsafeRawBufferPointer) {
        guard let command = Self.allCases.first(where: { $0.rawValue.utf8.elementsEqual(frame) }) else {
            return nil
        }
        self = command
    }
}

/// The reply words the broker sends a group member (protocol.md §4.10).
package enum GroupReplyWord: String, Sendable, CaseIterable {
    case joined = "JOINED"
    case deliver = "DELIVER"
    /// Many deliveries in one message, for members that ask for it (§4.10.2).
    case deliverPacked = "DELIVER-PACKED"
    case heartbeat = "HEARTBEAT"
    /// The answer to DELETE (§4.10.3).
    case deleted = "DELETED"
    /// The answer to SKIP-DAMAGED (§4.10.4).
    case skipped = "SKIPPED"

    package var frame: [UInt8] { Array(rawValue.utf8) }
}

/// Where a new group starts reading the journal (JOIN's `start`, §4.10); JOIN's
/// `startSeq` wins when present.
public enum GroupStart: String, Codable, Sendable, CaseIterable {
    /// At the earliest event the journal still holds (the default).
    case earliest
    /// After the last event journaled when the group is created.
    case latest
}
