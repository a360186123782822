public import MetroProtocol
public import ZeroMQ

extension ServiceRuntime {
    /// Where an instance finds the broker and the registry, where it keeps its data,
    /// and its shutdown bounds (`metro worker` fills it from its flags).
    public struct Configuration: Sendable {
        /// The broker's ingest (ROUTER) endpoint: the outbox relay publishes there.
        public var brokerIngest: String
        /// The broker's consume (ROUTER) endpoint: the event handlers' consumer groups.
        public var brokerConsume: String
        /// Registry endpoints (fallbacks in order); empty: the instance does not register.
        public var registry: [String]
        /// The data folder; the database is `<dataFolder>/<service>/<service>.sqlite`.
        public var dataFolder: String
        /// Unique among the service's instances; the registry's instance id and the
        /// consumer groups' member name.
        public var instance: String
        /// Where the rpc ROUTER binds (`*` as the port picks a free one).
        public var rpcBind: String = "tcp://127.0.0.1:*"
        /// The endpoint registered for callers (default: the one bound), for hosts
        /// whose callers reach them at another address.
        public var rpcAdvertise: String?
        /// Graceful shutdown: how long rpc calls and events in flight may take to finish.
        public var drainTimeout: Duration = .seconds(10)
        /// Graceful shutdown: how long the relay may take to publish what is left.
        public var outboxFlushTimeout: Duration = .seconds(5)
        /// The registry lease; heartbeats every third of it.
        public var registrationTTL: Duration = .seconds(10)
        /// How long a write waits for another instance's write to the same database.
        public var busyTimeout: Duration = .seconds(5)
        /// Used when this instance creates a consumer group: deliveries before the
        /// broker dead-letters an event that keeps failing (nil: the broker's default).
        public var maxDeliveries: Int?
        /// Used when this instance creates a consumer group: the ACK deadline.
        public var ackTimeout: Duration?
        /// Before serving, feed every event handler its topics from the start of
        /// the journal (`JournalRebuild`), into what should be a fresh database.
        public var rebuildFromJournal = false
        /// CURVE for every socket of the instance (protocol.md §7.10); nil: plain ZMTP.
        public var security: Security?
        /// Inbox rows handled longer ago are deleted (`RuntimeRetention`): keep it
        /// above the broker journal's retention by age (168 h by default).
        public var inboxRetention: Duration = .seconds(8 * 24 * 3600)
        /// Outbox rows the broker acknowledged longer ago are deleted.
        public var outboxRetention: Duration = .seconds(3600)
        /// How often the retention runs (and once when the instance is ready).
        public var retentionInterval: Duration = .seconds(600)

        public init(
            brokerIngest: String, brokerConsume: String, registry: [String], dataFolder: String, instance: String
        ) {
            self.brokerIngest = brokerIngest
            self.brokerConsume = brokerConsume
            self.registry = registry
            self.dataFolder = dataFolder
            self.instance = instance
        }
    }

    /// An instance in a secure system: one key pair (its identity, shared by the
    /// service's instances) for all its connections, the public keys of the servers
    /// it calls, and the ZAP decision for the callers of its rpc socket. Keys are
    /// loaded by whoever builds this (`metro worker --keys`); the runtime only uses
    /// them, so it needs no files and no YAML.
    public struct Security: Sendable {
        /// The instance's key pair: a CURVE client of the broker and the registry,
        /// the CURVE server key of its rpc socket, and the key its registration
        /// announces (metadata `curve-public-key`).
        public var keys: CurveKeyPair
        public var brokerPublicKey: String
        public var registryPublicKey: String
        /// Decides each handshake on the rpc socket (an allow-list check);
        /// it runs on a thread of its own, so it must not block.
        public var authorizeCaller: @Sendable (ZapRequest) -> ZapDecision
        /// Decides each call on the rpc socket by the caller's identity and the
        /// method (its `call` permission, protocol.md §7.8); nil: every method.
        public var authorizeMethod: (@Sendable (_ identity: String?, _ method: String) -> WireError?)?
        /// The ZAP domain of the rpc socket.
        public var zapDomain = "metro.rpc"

        public init(
            keys: CurveKeyPair, brokerPublicKey: String, registryPublicKey: String,
            authorizeCaller: @escaping @Sendable (ZapRequest) -> ZapDecision
        ) {
            self.keys = keys
            self.brokerPublicKey = brokerPublicKey
            self.registryPublicKey = registryPublicKey
            self.authorizeCaller = authorizeCaller
        }

        var broker: CurveCredentials { CurveCredentials(keys: keys, serverPublicKey: brokerPublicKey) }
        var registry: CurveCredentials { CurveCredentials(keys: keys, serverPublicKey: registryPublicKey) }
    }

    /// What `onReady` reports once the instance serves.
    public struct Ready: Sendable {
        public var service: String
        public var instance: String
        /// The rpc endpoint bound (nil when the service has no rpc method).
        public var rpcEndpoint: String?
        public var database: String
    }
}
