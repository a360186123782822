internal import CZeroMQ

/// CURVE (CurveZMQ) keys: 32-byte Curve25519 keys, written as 40-character Z85 text.
public struct CurveKeyPair: Sendable, Hashable {
    /// The Curve25519 public key, 40 characters of Z85: what peers are told.
    public let publicKey: String
    /// The Curve25519 secret key, 40 characters of Z85: keep it out of logs and configs
    /// that others read.
    public let secretKey: String

    /// Generates a new key pair. Throws `.notSupported` if libzmq lacks CURVE.
    public static func generate() throws(ZMQError) -> CurveKeyPair {
        var pub = [CChar](repeating: 0, count: 41)
        var sec = [CChar](repeating: 0, count: 41)
        try Syscall.mustSucceed("zmq_curve_keypair") { zmq_curve_keypair(&pub, &sec) }
        return CurveKeyPair(
            publicKey: pub.withUnsafeBufferPointer { String(cString: $0.baseAddress!) },
            secretKey: sec.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        )
    }

    /// A key pair read from configuration (both 40-character Z85 strings). Not
    /// checked here: libzmq rejects a malformed key when the socket option is set.
    public init(publicKey: String, secretKey: String) {
        self.publicKey = publicKey
        self.secretKey = secretKey
    }

    /// The key pair whose secret key is `secretKey` (40 characters of Z85): the
    /// public key is derived from it (`zmq_curve_public`), so a secret key file
    /// alone is a whole identity and cannot disagree with a separate public one.
    /// Throws `.invalidArgument` for text that is not a Z85 key of 32 bytes.
    public init(secretKey: String) throws(ZMQError) {
        guard CurveKeyPair.isKey(secretKey) else {
            throw ZMQError(invalidArgument: "not a 40-character Z85 key", operation: "zmq_curve_public")
        }
        var pub = [CChar](repeating: 0, count: 41)
        try Syscall.mustSucceed("zmq_curve_public") { zmq_curve_public(&pub, secretKey) }
        self.publicKey = pub.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        self.secretKey = secretKey
    }

    /// Whether `text` is a CURVE key in Z85: 40 characters that decode to 32 bytes.
    public static func isKey(_ text: String) -> Bool {
        text.utf8.count == 40 && Z85.decode(text)?.count == 32
    }
}

/// What a CURVE client needs to reach one server: its own key pair and the
/// server's public key (40 characters of Z85 each). MetroKit's clients take it in
/// their options, the registry for its connection to the broker; it lives here,
/// beside `CurveKeyPair`, because both need it and the registry does not depend
/// on MetroKit. nil in an options struct means CURVE off (plain ZMTP), as before.
public struct CurveCredentials: Sendable, Hashable {
    /// The client's own long-term key pair.
    public var keys: CurveKeyPair
    /// The server's long-term public key (its `.pub` file).
    public var serverPublicKey: String

    public init(keys: CurveKeyPair, serverPublicKey: String) {
        self.keys = keys
        self.serverPublicKey = serverPublicKey
    }
}

extension Socket {
    /// Makes this socket a CURVE client with `credentials` (call before `connect`).
    public func makeCurveClient(_ credentials: CurveCredentials) throws(ZMQError) {
        try makeCurveClient(credentials.keys, serverKey: credentials.serverPublicKey)
    }

    /// Makes this socket a CURVE server with `keys`. With `zapDomain`, every
    /// handshake is also put to the context's ZAP handler (`ZapHandler`) under that
    /// domain; libzmq asks the handler whenever one is bound in the context, and
    /// without one any client that knows the server's public key gets in.
    /// Call before `bind`: options apply to connections made after them.
    public func makeCurveServer(_ keys: CurveKeyPair, zapDomain: String? = nil) throws(ZMQError) {
        try set(.curveServer(true))
        try set(.curveSecretKey(keys.secretKey))
        if let zapDomain { try set(.zapDomain(zapDomain)) }
    }

    /// Makes this socket a CURVE client of the server whose public key is `serverKey`.
    public func makeCurveClient(_ keys: CurveKeyPair, serverKey: String) throws(ZMQError) {
        try set(.curveServerKey(serverKey))
        try set(.curvePublicKey(keys.publicKey))
        try set(.curveSecretKey(keys.secretKey))
    }
}
