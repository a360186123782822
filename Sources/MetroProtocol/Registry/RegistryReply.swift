/// One reply on the registry socket, after the REQ envelope (protocol.md §5.3):
/// `["metro/1"] ["OK"] [json]` or `["metro/1"] ["ERROR"] [code] [message]`.
package enum RegistryReply: Hashable, Sendable {
    /// A result; the body is the command's JSON (§5.4–5.9).
    case ok(body: [UInt8])
    case error(WireError)

    /// An OK reply carrying `value` as its JSON body.
    package static func ok(_ value: some Encodable) -> RegistryReply { .ok(body: RegistryJSON.encode(value)) }

    package func encode() -> [[UInt8]] {
        switch self {
        case .ok(let body):
            [WireProtocol.versionBytes, RegistryReplyWord.ok.frame, body]
        case .error(let e):
            ErrorReply.frames(e)
        }
    }

    /// Decodes a reply as a client does. The failure means the reply itself broke
    /// the protocol (not that the registry answered ERROR: that is `.error`).
    package static func decode(_ frames: [[UInt8]]) -> Result<RegistryReply, WireError> {
        guard frames.count >= 3, frames[0] == WireProtocol.versionBytes else {
            return .failure(WireError(.malformedMessage, "the reply is not a \(WireProtocol.version) registry reply"))
        }
        switch String(decoding: frames[1], as: UTF8.self) {
        case RegistryReplyWord.ok.rawValue where frames.count == 3:
            return .success(.ok(body: frames[2]))
        case RegistryReplyWord.error.rawValue where frames.count >= 4:
            guard let code = WireErrorCode(frame: frames[2]) else {
                return .failure(WireError(.malformedMessage, "the reply has an unknown error code"))
            }
            return .success(.error(WireError(code, String(decoding: frames[3], as: UTF8.self))))
        default:
            return .failure(
                WireError(.malformedMessage, "the reply is neither OK with one body nor ERROR with a code and message"))
        }
    }

    /// The OK body decoded as `T`; the registry's own error, or a decoding error, otherwise.
    package func result<T: Decodable>(_ type: T.Type) -> Result<T, WireError> {
        switch self {
        case .ok(let body): RegistryJSON.decode(T.self, from: body, what: "reply")
        case .error(let e): .failure(e)
        }
    }
}
