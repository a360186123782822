import Foundation

/// The consume socket's messages: statistics (protocol.md §4.5) and replay
/// (§4.9, `ReplayCodec`).
///
/// ```
/// C: ["metro/1"] ["STATS"]
/// B: ["metro/1"] ["STATS"] [json]
/// C: ["metro/1"] ["METRICS"]
/// B: ["metro/1"] ["METRICS"] [text: Prometheus exposition format 0.0.4]
/// ```
package enum ConsumeCodec {
    package enum Command: String, Sendable, CaseIterable {
        case stats = "STATS"
        case metrics = "METRICS"
    }

    /// Any request the consume socket takes.
    package enum Request: Sendable, Equatable {
        case stats
        case metrics
        case replay(ReplayCodec.Request)
        case credit(id: [UInt8], credit: UInt32)
        case cancel(id: [UInt8])
        case group(GroupCodec.Request)
    }

    /// A command word of the consume socket, by the part of §4 that defines it.
    enum Word {
        case consume(Command)
        case replay(ReplayCodec.Command)
        case group(GroupCommand)

        init?(_ frame: UnsafeRawBufferPointer) {
            if let g = GroupCommand(frame: frame) {
                self = .group(g)
            } else if let r = ReplayCodec.Command.allCases.first(where: { $0.rawValue.utf8.elementsEqual(frame) }) {
                self = .replay(r)
            } else if let c = Command.allCases.first(where: { $0.rawValue.utf8.elementsEqual(frame) }) {
                self = .consume(c)
            } else {
                return nil
            }
        }

        var name: String {
            switch self {
            case .consume(let c): c.rawValue
            case .replay(let r): r.rawValue
            case .group(let g): g.rawValue
            }
        }
    }

    /// Decodes any consume request (version frame at `offset`). On failure, the
    /// error comes with the id frame to echo when the request had a usable one:
    /// its third frame, for every code (§3.1).
    ///
    /// `discardedFrames`: frames that arrived past the receiving buffer's capacity
    /// and were dropped unread; such a request gets 101 with its context, as it
    /// would from an unbounded buffer.
    package static func decodeRequest(
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
        let word = frames.withFrame(offset + 1) { Word($0) }
        // A group command's context is its group name, when it is a valid one (§4.10).
        let id: [UInt8]?
        if case .group? = word { id = third.flatMap { GroupCodec.validName($0) ? $0 : nil } } else { id = third }
        func fail(_ e: WireError) -> Result<Request, RequestError> { .failure(.init(e, id: id)) }
        guard let word else {
            return fail(
                WireError(.unknownCommand, "not a command of the consume socket (protocol.md §4.5, §4.9, §4.10)"))
        }
        guard discardedFrames == 0 else {
            return fail(WireError(.malformedMessage, "\(word.name) has \(n) frames, more than any request may have"))
        }
        switch word {
        case .consume(let command):
            guard n == 2 else {
                return fail(WireError(.malformedMessage, "\(command.rawValue) has 2 frames, got \(n)"))
            }
            return .success(command == .stats ? .stats : .metrics)
        case .replay(.replay), .replay(.replayPacked):
            var packed = false
            if case .replay(.replayPacked) = word { packed = true }
            return ReplayCodec.decodeReplay(frames, offset: offset + 2, packed: packed).map { .replay($0) }.mapError {
                .init($0, id: id)
            }
        case .replay(.credit):
            guard n == 4 else { return fail(WireError(.malformedMessage, "CREDIT has 4 frames, got \(n)")) }
            guard let id else { return fail(ReplayCodec.checkID([])!) }
            guard let credit = frames.withFrame(offset + 3, { BigEndian.uint32($0) }) else {
                return fail(WireError(.malformedMessage, "credit is a 4-byte u32"))
            }
            return .success(.credit(id: id, credit: credit))
        case .replay(.cancel):
            guard n == 3 else { return fail(WireError(.malformedMessage, "CANCEL has 3 frames, got \(n)")) }
            guard let id else { return fail(ReplayCodec.checkID([])!) }
            return .success(.cancel(id: id))
        case .group(let command):
            return GroupCodec.decode(command, frames, offset: offset + 1).map { .group($0) }.mapError {
                .init($0, id: id)
            }
        }
    }

    /// A rejected request: the error, and the id to echo as its context (§3.1).
    package struct RequestError: Error, Sendable, Equatable {
        package var error: WireError
        package var id: [UInt8]?
        package init(_ error: WireError, id: [UInt8]? = nil) {
            self.error = error
            self.id = id
        }

        /// The ERROR reply (§3.1): the id, when there is one, as its context.
        package func encode() -> [[UInt8]] { ErrorReply.frames(error, context: id.map { [$0] } ?? []) }
    }

    package static func requestFrames(_ command: Command) -> [[UInt8]] {
        [WireProtocol.versionBytes, Array(command.rawValue.utf8)]
    }

    /// Every reply the consume socket sends, typed; `encode` gives its frames
    /// (after the routing id).
    package enum Reply: Sendable, Equatable {
        /// STATS: the counters as JSON (§4.5).
        case stats(BrokerStats)
        /// METRICS: the Prometheus text exposition (§4.5).
        case metrics(String)
        case replay(ReplayCodec.Reply)
        case group(GroupCodec.Reply)
        /// A request the socket refused (§3.1).
        case refused(RequestError)

        package func encode() -> [[UInt8]] {
            switch self {
            case .stats(let stats):
                let json = (try? JSONEncoder().encode(stats)).map { [UInt8]($0) } ?? Array("{}".utf8)
                return [WireProtocol.versionBytes, Array(Command.stats.rawValue.utf8), json]
            case .metrics(let text):
                return [WireProtocol.versionBytes, Array(Command.metrics.rawValue.utf8), Array(text.utf8)]
            case .replay(let r): return r.encode()
            case .group(let g): return g.encode()
            case .refused(let e): return e.encode()
            }
        }

        /// Whether it is an ERROR (counted as `rejected`).
        package var isError: Bool {
            switch self {
            case .stats, .metrics: false
            case .replay(.error), .group(.error), .refused: true
            case .replay, .group: false
            }
        }
    }
}
