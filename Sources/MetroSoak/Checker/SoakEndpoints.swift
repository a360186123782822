/// Where the checker finds the system under test: the broker's sockets (the
/// journal is read back through `replay`, group lag through `consume`), the
/// registry (to reach the services' rpc), and the gateway when one runs.
public struct SoakEndpoints: Sendable, Equatable {
    /// The broker's ingest socket (acknowledged publish, protocol.md §4.2).
    public var ingest: String
    /// The broker's events socket (XPUB live fan-out, §4.4).
    public var events: String
    /// The socket replays are asked on (§4.9). On today's broker it is the consume
    /// socket; the field stays apart so that a broker that splits them needs no new API.
    public var replay: String
    /// The broker's consume socket: STATS (§4.5, what `BrokerAdminClient` asks) and groups.
    public var consume: String
    /// The registry, e.g. `tcp://127.0.0.1:7400`.
    public var registry: String
    /// The gateway's base URL when a gateway runs, e.g. `http://127.0.0.1:8080`.
    public var gatewayURL: String?
    /// CURVE keys and a gateway token for a secure system; nil: plain.
    public var security: SoakSecurity?

    public init(
        ingest: String, events: String, replay: String, consume: String, registry: String, gatewayURL: String? = nil,
        security: SoakSecurity? = nil
    ) {
        self.security = security
        self.ingest = ingest
        self.events = events
        self.replay = replay
        self.consume = consume
        self.registry = registry
        self.gatewayURL = gatewayURL
    }
}
