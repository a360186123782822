/// One answer on the rpc socket (protocol.md §6.1), as the server sends it:
///
/// ```
/// S: ["metro/1"] ["REPLY"] [request-id] [headers: json] [body]
/// S: ["metro/1"] ["ERROR"] [code] [message] [request-id]?
/// ```
public enum RpcReply: Hashable, Sendable {
    /// The number of frames of a REPLY.
    public static let replyFrameCount = 5

    /// A result. `headers` is a JSON object, `{}` today (reserved, §6.2).
    case reply(requestID: [UInt8], headers: [UInt8] = Array("{}".utf8), body: [UInt8])
    /// A failure; the request id is there whenever the request's was readable (§3.1).
    case error(WireError, requestID: [UInt8]?)

    /// The request id this answers, if any.
    public var requestID: [UInt8]? {
        switch self {
        case .reply(let id, _, _): id
        case .error(_, let id): id
        }
    }

    public func encode() -> [[UInt8]] {
        switch self {
        case .reply(let id, let headers, let body):
            [WireProtocol.versionBytes, RpcCommand.reply.frame, id, headers, body]
        case .error(let e, let id):
            ErrorReply.frames(e, context: id.map { [$0] } ?? [])
        }
    }

    /// Decodes an answer as a caller does. The failure means the answer itself broke
    /// the protocol (not that the server answered ERROR: that is `.error`).
    public static func decode(_ frames: [[UInt8]]) -> Result<RpcReply, WireError> {
        guard frames.count >= 2, frames[0] == WireProtocol.versionBytes else {
            return .failure(WireError(.malformedMessage, "the answer is not a \(WireProtocol.version) rpc answer"))
        }
        switch frames[1] {
        case RpcCommand.reply.frame where frames.count == replyFrameCount:
            guard RpcLimits.isUsableRequestID(frames[2]) else {
                return .failure(WireError(.malformedMessage, "the REPLY's request id is not 1-64 bytes"))
            }
            return .success(.reply(requestID: frames[2], headers: frames[3], body: frames[4]))
        case RpcCommand.error.frame where frames.count == 4 || frames.count == 5:
            guard let code = WireErrorCode(frame: frames[2]) else {
                return .failure(WireError(.malformedMessage, "the ERROR has an unknown code"))
            }
            let id = frames.count == 5 ? frames[4] : nil
            if let id, !RpcLimits.isUsableRequestID(id) {
                return .failure(WireError(.malformedMessage, "the ERROR's request id is not 1-64 bytes"))
            }
            return .success(.error(WireError(code, String(decoding: frames[3], as: UTF8.self)), requestID: id))
        default:
            return .failure(
                WireError(
                    .malformedMessage, "the answer is neither a REPLY of 5 frames nor an ERROR of 4 or 5 frames"))
        }
    }
}
