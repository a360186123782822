/// Replay from the journal on the consume socket (protocol.md §4.9).
///
/// ```
/// C: ["metro/1"] ["REPLAY"] [replay-id] ["seq" | "time"] [from: u64] [to-seq: u64] [credit: u32] [prefix]*
/// C: ["metro/1"] ["REPLAY-PACKED"] [replay-id] ["seq" | "time"] [from] [to-seq] [credit] [batch-bytes: u32] [prefix]*
/// C: ["metro/1"] ["CREDIT"] [replay-id] [credit: u32]
/// C: ["metro/1"] ["CANCEL"] [replay-id]
/// B: ["metro/1"] ["EVENT"] [replay-id] [...the event's frames, as on the events socket (§4.4)...]
/// B: ["metro/1"] ["EVENT-PACKED"] [replay-id] [records: journal records, Appendix B]   (REPLAY-PACKED)
/// B: ["metro/1"] ["CAUGHT-UP"] [replay-id] [last-seq: u64]
/// B: ["metro/1"] ["ERROR"] [code] [message] [replay-id]? [seq: u64]?   (204: earliest held; 206: damaged)
/// ```
///
/// The event inside an EVENT message is always built and read through `LiveEvent`,
/// so a change of the live layout changes replay with it.
package enum ReplayCodec {
    /// The replay commands of the consume socket; the raw value is the command frame.
    package enum Command: String, Sendable, CaseIterable {
        case replay = "REPLAY"
        /// REPLAY asking for the packed form (§4.9.2): one more frame, the batch size.
        case replayPacked = "REPLAY-PACKED"
        case credit = "CREDIT"
        case cancel = "CANCEL"

        package var frame: [UInt8] { Array(rawValue.utf8) }
    }

    package static let replayCommand: [UInt8] = Command.replay.frame
    package static let creditCommand: [UInt8] = Command.credit.frame
    package static let cancelCommand: [UInt8] = Command.cancel.frame
    package static let eventCommand: [UInt8] = Array("EVENT".utf8)
    package static let caughtUpCommand: [UInt8] = Array("CAUGHT-UP".utf8)
    package static let packedEventsCommand: [UInt8] = Array("EVENT-PACKED".utf8)
    package static let replayPackedCommand: [UInt8] = Command.replayPacked.frame

    package static let maxIDBytes = 64
    package static let maxPrefixes = 64

    /// Where a replay starts.
    package enum Start: Sendable, Equatable {
        /// The first held event with a seq at least this (0: the earliest held).
        case seq(UInt64)
        /// The first held event stamped at or after this time (ns since the epoch).
        case time(UInt64)
    }

    package struct Request: Sendable, Equatable {
        package var id: [UInt8]
        package var start: Start
        /// The last seq to replay; 0 means "up to the head when the replay gets there".
        package var toSeq: UInt64
        package var credit: UInt32
        /// Topic prefixes (byte prefixes, as for SUB); none means every topic.
        package var prefixes: [[UInt8]]
        /// nil: the per-event form (REPLAY, EVENT). Set: the packed form (REPLAY-PACKED,
        /// EVENT-PACKED, §4.9.2) with this `batch-bytes` as sent (0: the broker's default).
        package var packing: UInt32?

        package init(
            id: [UInt8], start: Start, toSeq: UInt64 = 0, credit: UInt32, prefixes: [[UInt8]] = [],
            packing: UInt32? = nil
        ) {
            self.id = id
            self.start = start
            self.toSeq = toSeq
            self.credit = credit
            self.prefixes = prefixes
            self.packing = packing
        }

        /// The most record bytes the broker puts in one EVENT-PACKED frame for this
        /// request (one larger event still goes, alone); nil for the per-event form.
        package var batchBytes: Int? {
            packing.map { $0 == 0 ? ReplayCodec.defaultBatchBytes : Int($0) }
        }

        /// The frames a DEALER sends.
        package var frames: [[UInt8]] {
            let (kind, from): (String, UInt64) =
                switch start {
                case .seq(let s): ("seq", s)
                case .time(let t): ("time", t)
                }
            return [
                WireProtocol.versionBytes, packing == nil ? replayCommand : replayPackedCommand, id, Array(kind.utf8),
                BigEndian.bytes(from), BigEndian.bytes(toSeq), BigEndian.bytes32(credit),
            ] + (packing.map { [BigEndian.bytes32($0)] } ?? []) + prefixes
        }

        /// Whether `topic` matches one of the prefixes (or there are none).
        package func matches(_ topic: some Collection<UInt8>) -> Bool {
            prefixes.isEmpty || prefixes.contains { topic.starts(with: $0) }
        }
    }

    package static func creditFrames(id: [UInt8], credit: UInt32) -> [[UInt8]] {
        [WireProtocol.versionBytes, creditCommand, id, BigEndian.bytes32(credit)]
    }

    package static func cancelFrames(id: [UInt8]) -> [[UInt8]] {
        [WireProtocol.versionBytes, cancelCommand, id]
    }

    /// `batch-bytes` of REPLAY-PACKED when it is 0 (§4.9.2).
    package static let defaultBatchBytes = 65_536
    /// The largest `batch-bytes` a REPLAY-PACKED may ask for (§4.9.2).
    package static let maxBatchBytes = 1 << 20

    /// Decodes the body of REPLAY or REPLAY-PACKED (frames after the command,
    /// `offset` = the id frame), checking in the order §4.9 states.
    static func decodeReplay(
        _ frames: some FrameSequence, offset: Int, packed: Bool = false
    ) -> Result<Request, WireError> {
        let n = frames.frameCount - offset
        let fixed = packed ? 6 : 5
        guard n >= fixed else {
            let name = packed ? "REPLAY-PACKED" : "REPLAY"
            return .failure(WireError(.malformedMessage, "\(name) has at least \(fixed + 2) frames"))
        }
        let id = frames.frameBytes(offset)
        if let e = checkID(id) { return .failure(e) }
        guard n - fixed <= maxPrefixes else {
            return .failure(WireError(.malformedMessage, "at most \(maxPrefixes) prefixes"))
        }
        let kind = frames.frameBytes(offset + 1)
        guard let from = frames.withFrame(offset + 2, { BigEndian.uint64($0) }),
            let to = frames.withFrame(offset + 3, { BigEndian.uint64($0) }),
            let credit = frames.withFrame(offset + 4, { BigEndian.uint32($0) })
        else {
            return .failure(WireError(.malformedMessage, "from and to-seq are 8 bytes, credit 4 bytes"))
        }
        var packing: UInt32?
        if packed {
            guard let bytes = frames.withFrame(offset + 5, { BigEndian.uint32($0) }) else {
                return .failure(WireError(.malformedMessage, "batch-bytes is a 4-byte u32"))
            }
            packing = bytes
        }
        let start: Start
        switch String(decoding: kind, as: UTF8.self) {
        case "seq": start = .seq(from)
        case "time": start = .time(from)
        default: return .failure(WireError(.invalidArgument, "the start kind is \"seq\" or \"time\""))
        }
        if let packing, packing > maxBatchBytes {
            return .failure(WireError(.invalidArgument, "batch-bytes is 0 (the default) to \(maxBatchBytes)"))
        }
        var prefixes: [[UInt8]] = []
        for i in (offset + fixed)..<frames.frameCount {
            let p = frames.frameBytes(i)
            guard p.count <= Topic.maxBytes else {
                return .failure(WireError(.tooLarge, "a prefix has at most \(Topic.maxBytes) bytes"))
            }
            prefixes.append(p)
        }
        return .success(
            Request(id: id, start: start, toSeq: to, credit: credit, prefixes: prefixes, packing: packing))
    }

    static func checkID(_ id: [UInt8]) -> WireError? {
        guard !id.isEmpty, id.count <= maxIDBytes else {
            return WireError(.invalidArgument, "an id has 1-\(maxIDBytes) bytes")
        }
        return nil
    }

    /// A message the broker sends on a replay, as a client reads it.
    package enum Reply: Sendable, Equatable {
        case event(id: [UInt8], LiveEvent)
        /// EVENT-PACKED: whole journal records back to back (§4.9.2); `PackedReplay` reads them.
        case packed(id: [UInt8], records: [UInt8])
        case caughtUp(id: [UInt8], lastSeq: UInt64)
        /// `seq`, the second context frame: with 204 (sequence-out-of-range) the first
        /// seq still held, with 206 (damaged-record) the damaged record's seq.
        case error(WireError, id: [UInt8]?, seq: UInt64?)

        /// The message's frames, version first (no routing id).
        package func encode() -> [[UInt8]] {
            switch self {
            case .event(let id, let event): [WireProtocol.versionBytes, eventCommand, id] + event.frames
            case .packed(let id, let records): packedHead(id: id) + [records]
            case .caughtUp(let id, let seq): [WireProtocol.versionBytes, caughtUpCommand, id, BigEndian.bytes(seq)]
            case .error(let e, let id, let seq):
                ErrorReply.frames(e, context: (id.map { [$0] } ?? []) + (seq.map { [BigEndian.bytes($0)] } ?? []))
            }
        }
    }

    /// The frames of an EVENT-PACKED before its records (§4.9.2), for a broker that
    /// sends the records frame from a buffer of its own, without a copy.
    package static func packedHead(id: [UInt8]) -> [[UInt8]] {
        [WireProtocol.versionBytes, packedEventsCommand, id]
    }

    /// Decodes a broker message on the consume socket (DEALER side); nil if malformed.
    package static func decodeReply(_ frames: [[UInt8]]) -> Reply? {
        guard frames.count >= 3, frames[0] == WireProtocol.versionBytes else { return nil }
        if frames[1] == eventCommand {
            guard let event = LiveEvent(frames: Array(frames[3...])) else { return nil }
            return .event(id: frames[2], event)
        }
        if frames[1] == packedEventsCommand {
            guard frames.count == 4 else { return nil }
            return .packed(id: frames[2], records: frames[3])
        }
        if frames[1] == caughtUpCommand {
            guard frames.count == 4, let seq = BigEndian.uint64(frames[3]) else { return nil }
            return .caughtUp(id: frames[2], lastSeq: seq)
        }
        if frames[1] == ErrorReply.command, case .error(let e, let id)? = IngestCodec.decodeReply(frames) {
            let seq = frames.count >= 6 ? BigEndian.uint64(frames[5]) : nil
            return .error(e, id: id, seq: seq)
        }
        return nil
    }
}

extension BigEndian {
    package static func bytes32(_ value: UInt32) -> [UInt8] {
        withUnsafeBytes(of: value.bigEndian) { Array($0) }
    }

    package static func uint32(_ raw: UnsafeRawBufferPointer) -> UInt32? {
        guard raw.count == 4 else { return nil }
        return UInt32(bigEndian: raw.loadUnaligned(as: UInt32.self))
    }

    package static func uint32(_ bytes: some Collection<UInt8>) -> UInt32? {
        guard bytes.count == 4 else { return nil }
        return bytes.reduce(0) { $0 << 8 | UInt32($1) }
    }
}
