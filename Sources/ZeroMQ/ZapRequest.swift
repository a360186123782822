/// One ZAP request (ZeroMQ RFC 27): what libzmq asks a context's ZAP handler
/// when a peer's handshake reaches the point of authentication. For CURVE the one
/// credential is the client's long-term public key (32 bytes).
public struct ZapRequest: Sendable, Hashable {
    /// Echoed in the reply; libzmq matches replies to handshakes by it.
    public var requestID: [UInt8]
    /// The `ZMQ_ZAP_DOMAIN` of the socket the peer connected to.
    public var domain: String
    /// The peer's IP address, as text.
    public var address: String
    /// The connecting socket's routing id, when it set one.
    public var routingID: [UInt8]
    /// `NULL`, `PLAIN` or `CURVE`.
    public var mechanism: String
    /// The mechanism's credentials (CURVE: one frame, the client's public key).
    public var credentials: [[UInt8]]

    /// The client's CURVE public key as 40 characters of Z85, or nil when the
    /// mechanism is not CURVE or the credential is not one 32-byte key.
    public var curvePublicKey: String? {
        guard mechanism == "CURVE", credentials.count == 1, credentials[0].count == 32 else { return nil }
        return Z85.encode(credentials[0])
    }

    /// A request with the given fields (for tests of a deciding function).
    public init(
        requestID: [UInt8] = [], domain: String, address: String = "", routingID: [UInt8] = [],
        mechanism: String, credentials: [[UInt8]] = []
    ) {
        self.requestID = requestID
        self.domain = domain
        self.address = address
        self.routingID = routingID
        self.mechanism = mechanism
        self.credentials = credentials
    }

    /// The version RFC 27 defines; a request with another is refused.
    static let version = Array("1.0".utf8)

    /// Parses a request's frames as a REP socket receives them (envelope removed):
    /// version, request id, domain, address, identity, mechanism, credentials....
    /// nil for anything else; `requestID(of:)` still finds the id to answer.
    init?(frames: [[UInt8]]) {
        guard frames.count >= 6, frames[0] == Self.version else { return nil }
        self.init(
            requestID: frames[1], domain: String(decoding: frames[2], as: UTF8.self),
            address: String(decoding: frames[3], as: UTF8.self), routingID: frames[4],
            mechanism: String(decoding: frames[5], as: UTF8.self), credentials: Array(frames.dropFirst(6)))
    }
}

/// A ZAP handler's answer to one request.
public enum ZapDecision: Sendable, Hashable {
    /// 200: the peer is in, known as `userID` (its messages carry it as the
    /// `User-Id` property, `Message.metadata("User-Id")`).
    case allow(userID: String)
    /// 400: the handshake fails; `reason` is the status text (libzmq logs it to the
    /// server socket's monitor only, the client learns nothing).
    case deny(reason: String)
    /// 500: the handler could not decide (its allow-list is unusable, say); the
    /// handshake fails like a denial.
    case internalError(reason: String)

    /// The reply's frames for a request with `requestID` (RFC 27): version,
    /// request id, status code, status text, user id, metadata (empty).
    func replyFrames(requestID: [UInt8]) -> [[UInt8]] {
        let (code, text, user): (String, String, String) =
            switch self {
            case .allow(let userID): ("200", "OK", userID)
            case .deny(let reason): ("400", reason, "")
            case .internalError(let reason): ("500", reason, "")
            }
        return [ZapRequest.version, requestID, Array(code.utf8), Array(text.utf8), Array(user.utf8), []]
    }
}
