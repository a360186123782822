import Foundation

/// Durable consumer groups on the consume socket (protocol.md §4.10).
///
/// ```
/// C: ["metro/1"] ["JOIN"] [group] [member-name] [credit: u32] [config: json]
/// B: ["metro/1"] ["JOINED"] [group] [json]
/// C: ["metro/1"] ["GRANT"] [group] [credit: u32]
/// C: ["metro/1"] ["ACK"] [group] [seq: u64]
/// C: ["metro/1"] ["NAK"] [group] [seq: u64] [delay-ms: u32]
/// C: ["metro/1"] ["EXTEND"] [group] [seq: u64] [ms: u32]
/// C: ["metro/1"] ["HEARTBEAT"] [group]
/// B: ["metro/1"] ["HEARTBEAT"] [group]
/// C: ["metro/1"] ["LEAVE"] [group]
/// B: ["metro/1"] ["DELIVER"] [group] [seq: u64] [attempt: u32] [...the event's frames (§4.4)...]
/// ```
public enum GroupCodec {
    public static let maxNameBytes = 64

    /// JOIN's json: how to create the group if it does not exist yet (ignored otherwise).
    public struct Config: Codable, Sendable, Equatable {
        public var prefixes: [String]?
        /// "earliest" (default) or "latest"; `startSeq` wins when present.
        public var start: String?
        public var startSeq: UInt64?
        public var ackTimeoutMs: Int?
        public var maxDeliveries: Int?
        public init(
            prefixes: [String]? = nil, start: String? = nil, startSeq: UInt64? = nil, ackTimeoutMs: Int? = nil,
            maxDeliveries: Int? = nil
        ) {
            self.prefixes = prefixes
            self.start = start
            self.startSeq = startSeq
            self.ackTimeoutMs = ackTimeoutMs
            self.maxDeliveries = maxDeliveries
        }
    }

    /// JOINED's json: the group as it is.
    public struct Joined: Codable, Sendable, Equatable {
        public var group: String
        public var prefixes: [String]
        public var ackTimeoutMs: Int
        public var maxDeliveries: Int
        public var heartbeatMs: Int
        public var position: UInt64
        public init(
            group: String, prefixes: [String], ackTimeoutMs: Int, maxDeliveries: Int, heartbeatMs: Int, position: UInt64
        ) {
            self.group = group
            self.prefixes = prefixes
            self.ackTimeoutMs = ackTimeoutMs
            self.maxDeliveries = maxDeliveries
            self.heartbeatMs = heartbeatMs
            self.position = position
        }
    }

    public enum Request: Sendable, Equatable {
        case join(group: String, member: String, credit: UInt32, config: Config)
        case grant(group: String, credit: UInt32)
        case ack(group: String, seq: UInt64)
        case nak(group: String, seq: UInt64, delayMs: UInt32)
        case extend(group: String, seq: UInt64, ms: UInt32)
        case heartbeat(group: String)
        case leave(group: String)

        public var frames: [[UInt8]] {
            let v = WireProtocol.versionBytes
            func w(_ s: String) -> [UInt8] { Array(s.utf8) }
            switch self {
            case .join(let g, let m, let c, let config):
                let json = (try? JSONEncoder.sorted.encode(config)).map { [UInt8]($0) } ?? w("{}")
                return [v, w("JOIN"), w(g), w(m), BigEndian.bytes32(c), json]
            case .grant(let g, let c): return [v, w("GRANT"), w(g), BigEndian.bytes32(c)]
            case .ack(let g, let s): return [v, w("ACK"), w(g), BigEndian.bytes(s)]
            case .nak(let g, let s, let d): return [v, w("NAK"), w(g), BigEndian.bytes(s), BigEndian.bytes32(d)]
            case .extend(let g, let s, let ms):
                return [v, w("EXTEND"), w(g), BigEndian.bytes(s), BigEndian.bytes32(ms)]
            case .heartbeat(let g): return [v, w("HEARTBEAT"), w(g)]
            case .leave(let g): return [v, w("LEAVE"), w(g)]
            }
        }
    }

    static let commands: Set<String> = ["JOIN", "GRANT", "ACK", "NAK", "EXTEND", "HEARTBEAT", "LEAVE"]

    /// A group name: 1–64 of `A-Z a-z 0-9 _ -` (it becomes part of `$metro.dead.<group>`).
    public static func validName(_ bytes: some Collection<UInt8>) -> Bool {
        (1...maxNameBytes).contains(bytes.count)
            && bytes.allSatisfy { b in
                (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b == 0x5f
                    || b == 0x2d
            }
    }

    /// Decodes a group command; `offset` is the command frame.
    static func decode(_ word: String, _ frames: some FrameSequence, offset: Int) -> Result<Request, WireError> {
        let n = frames.frameCount - offset
        let expected = ["JOIN": 5, "GRANT": 3, "ACK": 3, "NAK": 4, "EXTEND": 4, "HEARTBEAT": 2, "LEAVE": 2][word]!
        guard n == expected else { return .failure(WireError(.malformedMessage, "\(word) has \(expected + 1) frames")) }
        let nameBytes = frames.frameBytes(offset + 1)
        guard validName(nameBytes) else {
            return .failure(WireError(.invalidArgument, "a group name is 1-64 of A-Z a-z 0-9 _ -"))
        }
        let group = String(decoding: nameBytes, as: UTF8.self)
        func u64(_ i: Int) -> UInt64? { frames.withFrame(offset + i) { BigEndian.uint64($0) } }
        func u32(_ i: Int) -> UInt32? { frames.withFrame(offset + i) { BigEndian.uint32($0) } }
        let bad = WireError(.malformedMessage, "seq is a u64 (8 bytes), credit and times u32 (4 bytes)")
        switch word {
        case "JOIN":
            let member = frames.frameBytes(offset + 2)
            guard member.count <= 128, let name = String(validating: member, as: UTF8.self) else {
                return .failure(WireError(.invalidUTF8, "the member name is 0-128 bytes of UTF-8"))
            }
            guard let credit = u32(3) else { return .failure(bad) }
            let config: Config
            switch Config.decode(frames.frameBytes(offset + 4)) {
            case .success(let c): config = c
            case .failure(let e): return .failure(e)
            }
            if let s = config.start, s != "earliest" && s != "latest" {
                return .failure(WireError(.invalidArgument, "start is \"earliest\" or \"latest\""))
            }
            if let p = config.prefixes,
                p.count > ReplayCodec.maxPrefixes || p.contains(where: { $0.utf8.count > Topic.maxBytes })
            {
                return .failure(WireError(.invalidArgument, "at most 64 prefixes of at most 255 bytes"))
            }
            return .success(.join(group: group, member: name, credit: credit, config: config))
        case "GRANT":
            guard let c = u32(2) else { return .failure(bad) }
            return .success(.grant(group: group, credit: c))
        case "ACK":
            guard let s = u64(2) else { return .failure(bad) }
            return .success(.ack(group: group, seq: s))
        case "NAK", "EXTEND":
            guard let s = u64(2), let ms = u32(3) else { return .failure(bad) }
            return .success(
                word == "NAK" ? .nak(group: group, seq: s, delayMs: ms) : .extend(group: group, seq: s, ms: ms))
        case "HEARTBEAT": return .success(.heartbeat(group: group))
        default: return .success(.leave(group: group))
        }
    }

    public static func deliverFrames(group: String, seq: UInt64, attempt: UInt32, event: LiveEvent) -> [[UInt8]] {
        [
            WireProtocol.versionBytes, Array("DELIVER".utf8), Array(group.utf8), BigEndian.bytes(seq),
            BigEndian.bytes32(attempt),
        ]
            + event.frames
    }

    /// What the broker sends a member, as a client reads it.
    public enum Reply: Sendable, Equatable {
        case joined(Joined)
        case deliver(group: String, seq: UInt64, attempt: UInt32, LiveEvent)
        case heartbeat(group: String)
        case error(WireError, context: [[UInt8]])
    }

    public static func decodeReply(_ frames: [[UInt8]]) -> Reply? {
        guard frames.count >= 3, frames[0] == WireProtocol.versionBytes else { return nil }
        switch String(decoding: frames[1], as: UTF8.self) {
        case "JOINED":
            guard frames.count == 4, let j = try? JSONDecoder().decode(Joined.self, from: Data(frames[3])) else {
                return nil
            }
            return .joined(j)
        case "DELIVER":
            guard frames.count > 5, let seq = BigEndian.uint64(frames[3]), let attempt = BigEndian.uint32(frames[4]),
                let event = LiveEvent(frames: Array(frames[5...]))
            else { return nil }
            return .deliver(group: String(decoding: frames[2], as: UTF8.self), seq: seq, attempt: attempt, event)
        case "HEARTBEAT":
            return .heartbeat(group: String(decoding: frames[2], as: UTF8.self))
        case "ERROR":
            guard frames.count >= 4, let code = WireErrorCode(frame: frames[2]) else { return nil }
            return .error(
                WireError(code, String(decoding: frames[3], as: UTF8.self)), context: Array(frames.dropFirst(4)))
        default:
            return nil
        }
    }
}

extension JSONEncoder {
    /// Sorted keys, no escaped slashes: byte-stable JSON for the wire.
    public static var sorted: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }
}
