import Foundation

/// What the broker sends a group member (protocol.md §4.10), typed: the broker
/// builds a `Reply` and encodes it; a client decodes the same type.
extension GroupCodec {
    package enum Reply: Sendable, Equatable {
        case joined(Joined)
        case deliver(group: String, seq: UInt64, attempt: UInt32, LiveEvent)
        /// Many deliveries in one message, to a member that asked for it (§4.10.2).
        case deliverPacked(group: String, PackedDelivery)
        case heartbeat(group: String)
        /// The group is gone: what it held when it was deleted (§4.10.3).
        case deleted(Deleted)
        /// The group was moved past a damaged record (§4.10.4).
        case skipped(Skipped)
        /// `context`: the group name, then the seq for 203 (§4.10).
        case error(WireError, context: [[UInt8]])

        /// The reply's frames, version first (no routing id).
        package func encode() -> [[UInt8]] {
            let v = WireProtocol.versionBytes
            switch self {
            case .joined(let j):
                let json = WireJSON.encode(j)
                return [v, GroupReplyWord.joined.frame, Array(j.group.utf8), json]
            case .deliver(let group, let seq, let attempt, let event):
                return [
                    v, GroupReplyWord.deliver.frame, Array(group.utf8), BigEndian.bytes(seq),
                    BigEndian.bytes32(attempt),
                ] + event.frames
            case .deliverPacked(let group, let body):
                return [v, GroupReplyWord.deliverPacked.frame, Array(group.utf8), body.attempts, body.records]
            case .heartbeat(let group):
                return [v, GroupReplyWord.heartbeat.frame, Array(group.utf8)]
            case .deleted(let d):
                return [v, GroupReplyWord.deleted.frame, Array(d.group.utf8), WireJSON.encode(d)]
            case .skipped(let s):
                return [v, GroupReplyWord.skipped.frame, Array(s.group.utf8), WireJSON.encode(s)]
            case .error(let e, let context):
                return ErrorReply.frames(e, context: context)
            }
        }

        package var isError: Bool {
            if case .error = self { return true }
            return false
        }
    }

    /// Decodes a reply as a client does; nil if malformed.
    package static func decodeReply(_ frames: [[UInt8]]) -> Reply? {
        guard frames.count >= 3, frames[0] == WireProtocol.versionBytes else { return nil }
        if frames[1] == ErrorReply.command {
            guard frames.count >= 4, let code = WireErrorCode(frame: frames[2]) else { return nil }
            return .error(
                WireError(code, String(decoding: frames[3], as: UTF8.self)), context: Array(frames.dropFirst(4)))
        }
        switch GroupReplyWord(rawValue: String(decoding: frames[1], as: UTF8.self)) {
        case .joined:
            guard frames.count == 4, let j = try? JSONDecoder().decode(Joined.self, from: Data(frames[3])) else {
                return nil
            }
            return .joined(j)
        case .deliver:
            guard frames.count > 5, let seq = BigEndian.uint64(frames[3]), let attempt = BigEndian.uint32(frames[4]),
                let event = LiveEvent(frames: Array(frames[5...]))
            else { return nil }
            return .deliver(group: String(decoding: frames[2], as: UTF8.self), seq: seq, attempt: attempt, event)
        case .deliverPacked:
            // The body is checked where it is read (`PackedDelivery.deliveries()`).
            guard frames.count == 5 else { return nil }
            return .deliverPacked(
                group: String(decoding: frames[2], as: UTF8.self),
                PackedDelivery(attempts: frames[3], records: frames[4]))
        case .heartbeat:
            return .heartbeat(group: String(decoding: frames[2], as: UTF8.self))
        case .deleted:
            guard frames.count == 4, let d = try? JSONDecoder().decode(Deleted.self, from: Data(frames[3])) else {
                return nil
            }
            return .deleted(d)
        case .skipped:
            guard frames.count == 4, let s = try? JSONDecoder().decode(Skipped.self, from: Data(frames[3])) else {
                return nil
            }
            return .skipped(s)
        case nil:
            return nil
        }
    }
}
