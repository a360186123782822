/// Replay from the journal on the consume socket (protocol.md §4.9).
///
/// ```
/// C: ["metro/1"] ["REPLAY"] [replay-id] ["seq" | "time"] [from: u64] [to-seq: u64] [credit: u32] [prefix]*
/// C: ["metro/1"] ["CREDIT"] [replay-id] [credit: u32]
/// C: ["metro/1"] ["CANCEL"] [replay-id]
/// B: ["metro/1"] ["EVENT"] [replay-id] [...the event's frames, as on the events socket (§4.4)...]
/// B: ["metro/1"] ["CAUGHT-UP"] [replay-id] [last-seq: u64]
/// B: ["metro/1"] ["ERROR"] [code] [message] [replay-id]? [earliest-seq: u64]?
/// ```
///
/// The event inside an EVENT message is always built and read through `LiveEvent`,
/// so a change of the live layout changes replay with it.
package enum ReplayCodec {
    /// The replay commands of the consume socket; the raw value is the command frame.
    package enum Command: String, Sendable, CaseIterable {
        case replay = "REPLAY"
        case credit = "CREDIT"
        case cancel = "CANCEL"

        package var frame: [UInt8] { Array(rawValue.utf8) }
    }

    package static let replayCommand: [UInt8] = Command.replay.frame
    package static let creditCommand: [UInt8] = Command.credit.frame
    package static let cancelCommand: [UInt8] = Command.cancel.frame
    package static let eventCommand: [UInt8] = Array("EVENT".utf8)
    package static let caughtUpCommand: [UInt8] = Array("CAUGHT-UP".utf8)

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

        package init(id: [UInt8], start: Start, toSeq: UInt64 = 0, credit: UInt32, prefixes: [[UInt8]] = []) {
            self.id = id
            self.start = start
            self.toSeq = toSeq
            self.credit = credit
            self.prefixes = prefixes
        }

        /// The frames a DEALER sends.
        package var frames: [[UInt8]] {
            let (kind, from): (String, UInt64) =
                switch start {
                case .seq(let s): ("seq", s)
                case .time(let t): ("time", t)
                }
            return [
                WireProtocol.versionBytes, replayCommand, id, Array(kind.utf8), BigEndian.bytes(from),
                BigEndian.bytes(toSeq), BigEndian.bytes32(credit),
            ] + prefixes
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

    /// Decodes the body of REPLAY (frames after the command, `offset` = the id frame).
    static func decodeReplay(_ frames: some FrameSequence, offset: Int) -> Result<Request, WireError> {
        let n = frames.frameCount - offset
        guard n >= 5 else { return .failure(WireError(.malformedMessage, "REPLAY has at least 7 frames")) }
        let id = frames.frameBytes(offset)
        if let e = checkID(id) { return .failure(e) }
        guard n - 5 <= maxPrefixes else {
            return .failure(WireError(.malformedMessage, "at most \(maxPrefixes) prefixes"))
        }
        let kind = frames.frameBytes(offset + 1)
        guard let from = frames.withFrame(offset + 2, { BigEndian.uint64($0) }),
            let to = frames.withFrame(offset + 3, { BigEndian.uint64($0) }),
            let credit = frames.withFrame(offset + 4, { BigEndian.uint32($0) })
        else {
            return .failure(WireError(.malformedMessage, "from and to-seq are 8 bytes, credit 4 bytes"))
        }
        let start: Start
        switch String(decoding: kind, as: UTF8.self) {
        case "seq": start = .seq(from)
        case "time": start = .time(from)
        default: return .failure(WireError(.invalidArgument, "the start kind is \"seq\" or \"time\""))
        }
        var prefixes: [[UInt8]] = []
        for i in (offset + 5)..<frames.frameCount {
            let p = frames.frameBytes(i)
            guard p.count <= Topic.maxBytes else {
                return .failure(WireError(.tooLarge, "a prefix has at most \(Topic.maxBytes) bytes"))
            }
            prefixes.append(p)
        }
        return .success(Request(id: id, start: start, toSeq: to, credit: credit, prefixes: prefixes))
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
        case caughtUp(id: [UInt8], lastSeq: UInt64)
        /// `earliest` comes with 204 (sequence-out-of-range): the first seq still held.
        case error(WireError, id: [UInt8]?, earliest: UInt64?)

        /// The message's frames, version first (no routing id).
        package func encode() -> [[UInt8]] {
            switch self {
            case .event(let id, let event): [WireProtocol.versionBytes, eventCommand, id] + event.frames
            case .caughtUp(let id, let seq): [WireProtocol.versionBytes, caughtUpCommand, id, BigEndian.bytes(seq)]
            case .error(let e, let id, let earliest):
                ErrorReply.frames(e, context: (id.map { [$0] } ?? []) + (earliest.map { [BigEndian.bytes($0)] } ?? []))
            }
        }
    }

    /// Decodes a broker message on the consume socket (DEALER side); nil if malformed.
    package static func decodeReply(_ frames: [[UInt8]]) -> Reply? {
        guard frames.count >= 3, frames[0] == WireProtocol.versionBytes else { return nil }
        if frames[1] == eventCommand {
            guard let event = LiveEvent(frames: Array(frames[3...])) else { return nil }
            return .event(id: frames[2], event)
        }
        if frames[1] == caughtUpCommand {
            guard frames.count == 4, let seq = BigEndian.uint64(frames[3]) else { return nil }
            return .caughtUp(id: frames[2], lastSeq: seq)
        }
        if frames[1] == ErrorReply.command, case .error(let e, let id)? = IngestCodec.decodeReply(frames) {
            let earliest = frames.count >= 6 ? BigEndian.uint64(frames[5]) : nil
            return .error(e, id: id, earliest: earliest)
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
