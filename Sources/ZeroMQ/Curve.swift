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
}

extension Socket {
    /// Makes this socket a CURVE server with `keys`.
    public func makeCurveServer(_ keys: CurveKeyPair) throws(ZMQError) {
        try set(.curveServer(true))
        try set(.curveSecretKey(keys.secretKey))
    }

    /// Makes this socket a CURVE client of the server whose public key is `serverKey`.
    public func makeCurveClient(_ keys: CurveKeyPair, serverKey: String) throws(ZMQError) {
        try set(.curveServerKey(serverKey))
        try set(.curvePublicKey(keys.publicKey))
        try set(.curveSecretKey(keys.secretKey))
    }
}
