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
/// C: ["metro/1"] ["REJECT"] [group] [seq: u64] [reason: utf8, 0–256 bytes]
/// C: ["metro/1"] ["HEARTBEAT"] [group]
/// B: ["metro/1"] ["HEARTBEAT"] [group]
/// C: ["metro/1"] ["LEAVE"] [group]
/// B: ["metro/1"] ["DELIVER"] [group] [seq: u64] [attempt: u32] [...the event's frames (§4.4)...]
/// C: ["metro/1"] ["ACKS"] [group] [credit: u32] [seqs: n × u64]                      (§4.10.2)
/// B: ["metro/1"] ["DELIVER-PACKED"] [group] [attempts: n × u32] [records: n journal records]
/// ```
public enum GroupCodec {
    package static let maxNameBytes = 64
    /// REJECT's reason, in UTF-8 bytes: it travels on as the dead letter's `detail` header.
    package static let maxReasonBytes = 256
    /// The most seqs one ACKS carries (a 512 KiB frame).
    package static let maxAcksPerMessage = 65_536

    /// JOIN's json: how to create the group if it does not exist yet (ignored otherwise).
    public struct Config: Codable, Sendable, Equatable {
        /// Topic prefixes the group takes; nil: every topic (protocol.md §4.10).
        public var prefixes: [String]?
        /// Where the group starts (default: earliest); `startSeq` wins when present.
        public var start: GroupStart?
        /// Start after this seq (events with a larger seq come); overrides `start`.
        public var startSeq: UInt64?
        /// Milliseconds a member may hold a delivery unACKed before it is redelivered;
        /// nil: the broker's default.
        public var ackTimeoutMs: Int?
        /// Deliveries at most before the event goes to the dead-letter topic; nil: the
        /// broker's default.
        public var maxDeliveries: Int?
        /// This member's, not the group's, and read on every JOIN: present, the broker
        /// sends DELIVER-PACKED frames of at most this many record bytes (0: 65,536)
        /// instead of one DELIVER per event (§4.10.2); nil: DELIVER.
        public var batchBytes: Int?
        /// Every field optional: nil leaves it to the broker's configuration.
        public init(
            prefixes: [String]? = nil, start: GroupStart? = nil, startSeq: UInt64? = nil, ackTimeoutMs: Int? = nil,
            maxDeliveries: Int? = nil, batchBytes: Int? = nil
        ) {
            self.prefixes = prefixes
            self.start = start
            self.startSeq = startSeq
            self.ackTimeoutMs = ackTimeoutMs
            self.maxDeliveries = maxDeliveries
            self.batchBytes = batchBytes
        }
    }

    /// JOINED's json: the group as it is.
    package struct Joined: Codable, Sendable, Equatable {
        package var group: String
        package var prefixes: [String]
        package var ackTimeoutMs: Int
        package var maxDeliveries: Int
        package var heartbeatMs: Int
        package var position: UInt64
        /// The member's packed delivery (§4.10.2), as the broker applies it (65,536 for
        /// a JOIN's 0); absent for DELIVER per event, and from brokers that predate it.
        package var batchBytes: Int?
        package init(
            group: String, prefixes: [String], ackTimeoutMs: Int, maxDeliveries: Int, heartbeatMs: Int,
            position: UInt64,
            batchBytes: Int? = nil
        ) {
            self.group = group
            self.prefixes = prefixes
            self.ackTimeoutMs = ackTimeoutMs
            self.maxDeliveries = maxDeliveries
            self.heartbeatMs = heartbeatMs
            self.position = position
            self.batchBytes = batchBytes
        }
    }

    /// DELETED's json: what the group held when it went (§4.10.3).
    package struct Deleted: Codable, Sendable, Equatable {
        package var group: String
        package var prefixes: [String]
        /// The last seq it had handed out in order; the next JOIN of that name starts anew.
        package var position: UInt64
        /// Events it had taken and not finished (waiting for a redelivery), now dropped.
        package var pending: Int
        package init(group: String, prefixes: [String], position: UInt64, pending: Int) {
            self.group = group
            self.prefixes = prefixes
            self.position = position
            self.pending = pending
        }
    }

    /// SKIPPED's json: the damaged record a group was moved past (§4.10.4).
    package struct Skipped: Codable, Sendable, Equatable {
        package var group: String
        /// The skipped record's seq, as the segment's index names it.
        package var seq: UInt64
        /// The segment file (its name in the journal folder) and the record's offset in it.
        package var segment: String
        package var offset: Int64
        /// The group's position now (`seq`): it reads on from the record after it.
        package var position: UInt64
        package init(group: String, seq: UInt64, segment: String, offset: Int64, position: UInt64) {
            self.group = group
            self.seq = seq
            self.segment = segment
            self.offset = offset
            self.position = position
        }
    }

    package enum Request: Sendable, Equatable {
        case join(group: String, member: String, credit: UInt32, config: Config)
        case grant(group: String, credit: UInt32)
        case ack(group: String, seq: UInt64)
        case nak(group: String, seq: UInt64, delayMs: UInt32)
        case extend(group: String, seq: UInt64, ms: UInt32)
        /// Dead-letters the delivery now; `reason` is 0–256 bytes (`maxReasonBytes`).
        case reject(group: String, seq: UInt64, reason: String)
        case heartbeat(group: String)
        case leave(group: String)
        /// ACKs every seq of `seqs` (0–65,536 of them) and grants `credit` (§4.10.2).
        case acks(group: String, credit: UInt32, seqs: [UInt64])
        /// Removes the group, which must have no member (§4.10.3).
        case delete(group: String)
        /// Moves the group past the damaged record `seq` it stopped at (§4.10.4).
        case skipDamaged(group: String, seq: UInt64)

        package var command: GroupCommand {
            switch self {
            case .join: .join
            case .grant: .grant
            case .ack: .ack
            case .nak: .nak
            case .extend: .extend
            case .reject: .reject
            case .heartbeat: .heartbeat
            case .leave: .leave
            case .acks: .acks
            case .delete: .delete
            case .skipDamaged: .skipDamaged
            }
        }

        /// The group the request names.
        package var group: String {
            switch self {
            case .join(let g, _, _, _), .grant(let g, _), .ack(let g, _), .nak(let g, _, _), .extend(let g, _, _),
                .reject(let g, _, _), .heartbeat(let g), .leave(let g), .acks(let g, _, _), .delete(let g),
                .skipDamaged(let g, _):
                g
            }
        }

        /// The frames a DEALER sends, version first.
        package var frames: [[UInt8]] {
            var frames = [WireProtocol.versionBytes, command.frame, Array(group.utf8)]
            switch self {
            case .join(_, let m, let c, let config):
                let json = WireJSON.encode(config)
                frames += [Array(m.utf8), BigEndian.bytes32(c), json]
            case .grant(_, let c): frames.append(BigEndian.bytes32(c))
            case .ack(_, let s), .skipDamaged(_, let s): frames.append(BigEndian.bytes(s))
            case .nak(_, let s, let ms), .extend(_, let s, let ms):
                frames += [BigEndian.bytes(s), BigEndian.bytes32(ms)]
            case .reject(_, let s, let reason): frames += [BigEndian.bytes(s), Array(reason.utf8)]
            case .heartbeat, .leave, .delete: break
            case .acks(_, let c, let seqs):
                var packed = [UInt8](repeating: 0, count: 8 * seqs.count)
                packed.withUnsafeMutableBytes { raw in
                    for (i, s) in seqs.enumerated() {
                        raw.storeBytes(of: s.bigEndian, toByteOffset: 8 * i, as: UInt64.self)
                    }
                }
                frames += [BigEndian.bytes32(c), packed]
            }
            return frames
        }
    }

    /// A group name: 1–64 of `A-Z a-z 0-9 _ -` (it becomes part of `$metro.dead.<group>`).
    package static func validName(_ bytes: some Collection<UInt8>) -> Bool {
        (1...maxNameBytes).contains(bytes.count)
            && bytes.allSatisfy { b in
                (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b == 0x5f
                    || b == 0x2d
            }
    }

    /// Decodes a group command; `offset` is the command frame. The checks run in
    /// the order of §4.10: frame count, group name, then the command's fields.
    static func decode(
        _ command: GroupCommand, _ frames: some FrameSequence, offset: Int
    ) -> Result<Request, WireError> {
        let n = frames.frameCount - offset + 1
        guard n == command.frameCount else {
            return .failure(WireError(.malformedMessage, "\(command.rawValue) has \(command.frameCount) frames"))
        }
        let nameBytes = frames.frameBytes(offset + 1)
        guard validName(nameBytes) else {
            return .failure(WireError(.invalidArgument, "a group name is 1-64 of A-Z a-z 0-9 _ -"))
        }
        let group = String(decoding: nameBytes, as: UTF8.self)
        func u64(_ i: Int) -> UInt64? { frames.withFrame(offset + i) { BigEndian.uint64($0) } }
        func u32(_ i: Int) -> UInt32? { frames.withFrame(offset + i) { BigEndian.uint32($0) } }
        let bad = WireError(.malformedMessage, "seq is a u64 (8 bytes), credit and times u32 (4 bytes)")
        switch command {
        case .join:
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
            if let p = config.prefixes,
                p.count > ReplayCodec.maxPrefixes || p.contains(where: { $0.utf8.count > Topic.maxBytes })
            {
                return .failure(WireError(.invalidArgument, "at most 64 prefixes of at most 255 bytes"))
            }
            return .success(.join(group: group, member: name, credit: credit, config: config))
        case .grant:
            guard let c = u32(2) else { return .failure(bad) }
            return .success(.grant(group: group, credit: c))
        case .ack:
            guard let s = u64(2) else { return .failure(bad) }
            return .success(.ack(group: group, seq: s))
        case .nak:
            guard let s = u64(2), let ms = u32(3) else { return .failure(bad) }
            return .success(.nak(group: group, seq: s, delayMs: ms))
        case .extend:
            guard let s = u64(2), let ms = u32(3) else { return .failure(bad) }
            return .success(.extend(group: group, seq: s, ms: ms))
        case .reject:
            guard let s = u64(2) else { return .failure(bad) }
            // Measured before it is copied: the frame may be as large as the socket allows.
            guard frames.withFrame(offset + 3, { $0.count }) <= maxReasonBytes else {
                return .failure(WireError(.tooLarge, "a REJECT reason is at most \(maxReasonBytes) bytes"))
            }
            let reason = frames.frameBytes(offset + 3)
            guard let text = String(validating: reason, as: UTF8.self) else {
                return .failure(WireError(.invalidUTF8, "a REJECT reason is UTF-8 text"))
            }
            return .success(.reject(group: group, seq: s, reason: text))
        case .heartbeat: return .success(.heartbeat(group: group))
        case .leave: return .success(.leave(group: group))
        case .delete: return .success(.delete(group: group))
        case .skipDamaged:
            guard let s = u64(2) else { return .failure(bad) }
            return .success(.skipDamaged(group: group, seq: s))
        case .acks:
            guard let c = u32(2) else { return .failure(bad) }
            // Measured before it is copied: the frame may be as large as the socket allows.
            let size = frames.withFrame(offset + 3) { $0.count }
            guard size % 8 == 0 else {
                return .failure(
                    WireError(.malformedMessage, "ACKS's seqs frame is a whole number of u64 (8 bytes each)"))
            }
            guard size / 8 <= maxAcksPerMessage else {
                return .failure(WireError(.tooLarge, "an ACKS carries at most \(maxAcksPerMessage) seqs"))
            }
            let seqs = frames.withFrame(offset + 3) { raw in
                (0..<(raw.count / 8)).map {
                    UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self))
                }
            }
            return .success(.acks(group: group, credit: c, seqs: seqs))
        }
    }
}
