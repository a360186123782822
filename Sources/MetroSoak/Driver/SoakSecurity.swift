public import ZeroMQ

/// How the soak reaches a secure system (`metro up --secure`, protocol.md §7.10):
/// the operator's CURVE key pair (`cli`, all access on the allow-list `metro up
/// --secure` writes), the broker's and the registry's public keys, and a bearer
/// token for the gateway. The services' rpc keys come from the registry, as
/// every caller's do. Loaded by `metro soak` (which has the key files and the
/// token minting) once the system is ready: in start mode `metro up --secure`
/// makes the keys before its ready line.
///
/// Why: production runs with CURVE on, and a soak of the plain system says
/// nothing of the secure one's handshakes, reconnects and ZAP under faults.
public struct SoakSecurity: Sendable, Equatable {
    public var keys: CurveKeyPair
    public var brokerPublicKey: String
    public var registryPublicKey: String
    /// `Authorization: Bearer <token>` for every gateway request; nil: none.
    public var bearerToken: String?

    public init(keys: CurveKeyPair, brokerPublicKey: String, registryPublicKey: String, bearerToken: String?) {
        self.keys = keys
        self.brokerPublicKey = brokerPublicKey
        self.registryPublicKey = registryPublicKey
        self.bearerToken = bearerToken
    }

    public var broker: CurveCredentials { CurveCredentials(keys: keys, serverPublicKey: brokerPublicKey) }
    public var registry: CurveCredentials { CurveCredentials(keys: keys, serverPublicKey: registryPublicKey) }
}
