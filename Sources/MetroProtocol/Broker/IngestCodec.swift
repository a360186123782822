/// The ingest socket's messages (protocol.md §4.2): acknowledged publish.
///
/// ```
/// C: ["metro/1"] ["PUBLISH"] [event-id] [topic] [headers] [payload]
/// B: ["metro/1"] ["ACK"] [event-id] [seq: u64]
/// B: ["metro/1"] ["ERROR"] [code] [message] [event-id]?
/// ```
public enum IngestCodec {
    public static let publishCommand: [UInt8] = Array("PUBLISH".utf8)
    public static let ackCommand: [UInt8] = Array("ACK".utf8)
    public static let errorCommand: [UInt8] = Array("ERROR".utf8)

    /// One PUBLISH, as a client builds it.
    public struct Publish: Sendable, Equatable {
        public var eventID: [UInt8]
        public var topic: String
        public var headers: [UInt8]
        public var payload: [UInt8]

        public init(eventID: [UInt8], topic: String, headers: [UInt8] = [], payload: [UInt8]) {
            self.eventID = eventID
            self.topic = topic
            self.headers = headers
            self.payload = payload
        }

        /// The frames a DEALER sends (no routing id, no delimiter).
        public var frames: [[UInt8]] {
            [WireProtocol.versionBytes, IngestCodec.publishCommand, eventID, Array(topic.utf8), headers, payload]
        }
    }

    /// What the broker does with a received request.
    public enum Decision: Equatable, Sendable {
        /// A valid PUBLISH: frames `offset+2...offset+5` are id, topic, headers, payload.
        case publish
        /// Reject with `error`; `eventIDFrame` is the index of the event id frame, when
        /// there is one to echo back as the error's context (§3.1).
        case reject(WireError, eventIDFrame: Int?)
    }

    /// Validates a request whose version frame is at `offset` (1 behind a ROUTER's
    /// routing id). Touches no allocation on the accepting path.
    public static func decide(_ frames: some FrameSequence, offset: Int, maxPayloadBytes: Int) -> Decision {
        let n = frames.frameCount - offset
        guard n >= 1 else { return .reject(WireError(.malformedMessage, "empty request"), eventIDFrame: nil) }
        guard frames.frameEquals(offset, WireProtocol.versionBytes) else {
            return .reject(WireError(.unsupportedVersion, "the first frame must be \"metro/1\""), eventIDFrame: nil)
        }
        guard n >= 2 else { return .reject(WireError(.malformedMessage, "missing command frame"), eventIDFrame: nil) }
        guard frames.frameEquals(offset + 1, publishCommand) else {
            return .reject(WireError(.unknownCommand, "the ingest socket knows only PUBLISH"), eventIDFrame: nil)
        }
        let idFrame = offset + 2
        let idLength = n >= 3 ? frames.withFrame(idFrame) { $0.count } : 0
        let echo: Int? = (idLength >= 1 && idLength <= BrokerLimits.maxEventIDBytes) ? idFrame : nil
        guard n == 6 else {
            return .reject(WireError(.malformedMessage, "PUBLISH has 6 frames, got \(n)"), eventIDFrame: echo)
        }
        guard idLength > 0 else {
            return .reject(WireError(.missingEventID, "the event id frame is empty"), eventIDFrame: nil)
        }
        guard idLength <= BrokerLimits.maxEventIDBytes else {
            return .reject(WireError(.tooLarge, "the event id has \(idLength) bytes; at most 64"), eventIDFrame: nil)
        }
        if let e = frames.withFrame(offset + 3, { Topic.validatePublishable($0) }) {
            return .reject(e, eventIDFrame: echo)
        }
        let headers = frames.withFrame(offset + 4) { $0.count }
        guard headers <= BrokerLimits.maxHeadersBytes else {
            return .reject(
                WireError(.tooLarge, "the headers frame has \(headers) bytes; at most 65536"), eventIDFrame: echo)
        }
        let payload = frames.withFrame(offset + 5) { $0.count }
        guard payload <= maxPayloadBytes else {
            return .reject(
                WireError(.tooLarge, "the payload has \(payload) bytes; at most \(maxPayloadBytes)"), eventIDFrame: echo
            )
        }
        return .publish
    }

    /// A broker reply, as a client reads it.
    public enum Reply: Equatable, Sendable {
        case ack(eventID: [UInt8], seq: UInt64)
        case error(WireError, eventID: [UInt8]?)
    }

    public static func ackFrames(eventID: [UInt8], seq: UInt64) -> [[UInt8]] {
        [WireProtocol.versionBytes, ackCommand, eventID, BigEndian.bytes(seq)]
    }

    public static func errorFrames(_ error: WireError, context: [[UInt8]] = []) -> [[UInt8]] {
        [WireProtocol.versionBytes, errorCommand, error.code.frame, Array(error.message.utf8)] + context
    }

    /// Decodes a reply from the broker (DEALER side: no routing id); nil if malformed.
    public static func decodeReply(_ frames: [[UInt8]]) -> Reply? {
        guard frames.count >= 2, frames[0] == WireProtocol.versionBytes else { return nil }
        if frames[1] == ackCommand {
            guard frames.count == 4, let seq = BigEndian.uint64(frames[3]) else { return nil }
            return .ack(eventID: frames[2], seq: seq)
        }
        if frames[1] == errorCommand {
            guard frames.count >= 4, let code = WireErrorCode(frame: frames[2]) else { return nil }
            let message = String(decoding: frames[3], as: UTF8.self)
            return .error(WireError(code, message), eventID: frames.count >= 5 ? frames[4] : nil)
        }
        return nil
    }
}
