/// The consume socket's messages: statistics (protocol.md §4.5) and replay
/// (§4.9, `ReplayCodec`).
///
/// ```
/// C: ["metro/1"] ["STATS"]
/// B: ["metro/1"] ["STATS"] [json]
/// C: ["metro/1"] ["METRICS"]
/// B: ["metro/1"] ["METRICS"] [text: Prometheus exposition format 0.0.4]
/// ```
public enum ConsumeCodec {
    public enum Command: String, Sendable, CaseIterable {
        case stats = "STATS"
        case metrics = "METRICS"
    }

    /// Any request the consume socket takes.
    public enum Request: Sendable, Equatable {
        case stats
        case metrics
        case replay(ReplayCodec.Request)
        case credit(id: [UInt8], credit: UInt32)
        case cancel(id: [UInt8])
        case group(GroupCodec.Request)
    }

    /// The consume socket's commands with an id frame (replay id or group name) third.
    static let replayCommands: Set<String> = ["REPLAY", "CREDIT", "CANCEL"]

    /// Decodes any consume request (version frame at `offset`). On failure, the
    /// error comes with the id frame to echo when the request had a usable one:
    /// its third frame, for every code (§3.1).
    ///
    /// `discardedFrames`: frames that arrived past the receiving buffer's capacity
    /// and were dropped unread; such a request gets 101 with its context, as it
    /// would from an unbounded buffer.
    public static func decodeRequest(
        _ frames: some FrameSequence, offset: Int, discardedFrames: Int = 0
    ) -> Result<Request, RequestError> {
        let n = frames.frameCount - offset + discardedFrames
        let third: [UInt8]? =
            n >= 3
            ? frames.withFrame(offset + 2) { raw in
                raw.count >= 1 && raw.count <= ReplayCodec.maxIDBytes ? [UInt8](raw) : nil
            } : nil
        guard n >= 1, frames.frameEquals(offset, WireProtocol.versionBytes) else {
            return .failure(.init(WireError(.unsupportedVersion, "the first frame must be \"metro/1\""), id: third))
        }
        guard n >= 2 else { return .failure(.init(WireError(.malformedMessage, "missing command frame"))) }
        let word = frames.withFrame(offset + 1) { String(decoding: $0, as: UTF8.self) }
        let isGroup = GroupCodec.commands.contains(word)
        // A group command's context is its group name, when it is a valid one (§4.10).
        let id = isGroup ? third.flatMap { GroupCodec.validName($0) ? $0 : nil } : third
        func fail(_ e: WireError) -> Result<Request, RequestError> { .failure(.init(e, id: id)) }
        guard isGroup || replayCommands.contains(word) || Command(rawValue: word) != nil else {
            return fail(
                WireError(.unknownCommand, "not a command of the consume socket (protocol.md §4.5, §4.9, §4.10)"))
        }
        guard discardedFrames == 0 else {
            return fail(WireError(.malformedMessage, "\(word) has \(n) frames, more than any request may have"))
        }
        switch word {
        case "STATS", "METRICS":
            guard n == 2 else { return fail(WireError(.malformedMessage, "\(word) has 2 frames, got \(n)")) }
            return .success(word == "STATS" ? .stats : .metrics)
        case "REPLAY":
            return ReplayCodec.decodeReplay(frames, offset: offset + 2).map { .replay($0) }.mapError {
                .init($0, id: id)
            }
        case "CREDIT":
            guard n == 4 else { return fail(WireError(.malformedMessage, "CREDIT has 4 frames, got \(n)")) }
            guard let id else { return fail(ReplayCodec.checkID([])!) }
            guard let credit = frames.withFrame(offset + 3, { BigEndian.uint32($0) }) else {
                return fail(WireError(.malformedMessage, "credit is a 4-byte u32"))
            }
            return .success(.credit(id: id, credit: credit))
        case "CANCEL":
            guard n == 3 else { return fail(WireError(.malformedMessage, "CANCEL has 3 frames, got \(n)")) }
            guard let id else { return fail(ReplayCodec.checkID([])!) }
            return .success(.cancel(id: id))
        default:
            return GroupCodec.decode(word, frames, offset: offset + 1).map { .group($0) }.mapError {
                .init($0, id: id)
            }
        }
    }

    /// A rejected request: the error, and the id to echo as its context (§3.1).
    public struct RequestError: Error, Sendable, Equatable {
        public var error: WireError
        public var id: [UInt8]?
        public init(_ error: WireError, id: [UInt8]? = nil) {
            self.error = error
            self.id = id
        }
    }

    public static func requestFrames(_ command: Command) -> [[UInt8]] {
        [WireProtocol.versionBytes, Array(command.rawValue.utf8)]
    }

    /// Decides what a request asks for (version frame at `offset`).
    public static func decide(_ frames: some FrameSequence, offset: Int) -> Result<Command, WireError> {
        let n = frames.frameCount - offset
        guard n >= 1, frames.frameEquals(offset, WireProtocol.versionBytes) else {
            return .failure(WireError(.unsupportedVersion, "the first frame must be \"metro/1\""))
        }
        guard n >= 2 else { return .failure(WireError(.malformedMessage, "missing command frame")) }
        let word = frames.withFrame(offset + 1) { String(decoding: $0, as: UTF8.self) }
        guard let command = Command(rawValue: word) else {
            return .failure(WireError(.unknownCommand, "the consume socket knows STATS and METRICS"))
        }
        guard n == 2 else { return .failure(WireError(.malformedMessage, "\(word) has 2 frames, got \(n)")) }
        return .success(command)
    }
}
