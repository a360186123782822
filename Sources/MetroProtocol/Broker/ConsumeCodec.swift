/// The consume socket's messages (protocol.md §4.5). In this version: statistics.
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
