/// The JSON bodies of the registry's OK replies (protocol.md §5.4–5.9).

/// OK body of REGISTER and HEARTBEAT: the lease as granted.
public struct LeaseGrant: Codable, Hashable, Sendable {
    /// The lease the registry granted, in milliseconds (the TTL that was asked for):
    /// heartbeat well within it.
    public var ttlMilliseconds: UInt64

    /// A grant of `ttlMilliseconds`.
    public init(ttlMilliseconds: UInt64) { self.ttlMilliseconds = ttlMilliseconds }

    enum CodingKeys: String, CodingKey { case ttlMilliseconds = "ttl_ms" }
}

/// One instance as LOOKUP returns it: only what a caller needs to connect.
public struct InstanceInfo: Codable, Hashable, Sendable {
    /// The instance id within the service.
    public var instance: String
    /// The incarnation (see `Registration.epoch`).
    public var epoch: UInt64
    /// The rpc endpoints to connect to.
    public var endpoints: [String]
    /// The metadata the instance registered (version, zone, ...).
    public var metadata: [String: String]

    /// An instance as LOOKUP lists it.
    public init(instance: String, epoch: UInt64, endpoints: [String], metadata: [String: String]) {
        self.instance = instance
        self.epoch = epoch
        self.endpoints = endpoints
        self.metadata = metadata
    }
}

/// OK body of LOOKUP: the healthy instances of one service, sorted by instance id.
package struct LookupResult: Codable, Hashable, Sendable {
    package var service: String
    package var instances: [InstanceInfo]
    /// True while the registry has run for less than its warm-up (§5.7): instances
    /// registered with the registry before it restarted may not have registered
    /// again yet. Absent (nil) otherwise.
    package var warming: Bool?

    package init(service: String, instances: [InstanceInfo], warming: Bool? = nil) {
        self.service = service
        self.instances = instances
        self.warming = warming
    }
}

/// One instance as LIST returns it, with its lease.
public struct InstanceStatus: Codable, Hashable, Sendable {
    /// The service the instance belongs to.
    public var service: String
    /// The instance id within the service.
    public var instance: String
    /// The incarnation (see `Registration.epoch`).
    public var epoch: UInt64
    /// The rpc endpoints it registered.
    public var endpoints: [String]
    /// The metadata it registered.
    public var metadata: [String: String]
    /// The lease it was granted, in milliseconds.
    public var ttlMilliseconds: UInt64
    /// Milliseconds since this incarnation registered.
    public var ageMilliseconds: UInt64
    /// Milliseconds since the last REGISTER or HEARTBEAT.
    public var sinceHeartbeatMilliseconds: UInt64
    /// Milliseconds until the lease runs out.
    public var leaseLeftMilliseconds: UInt64

    /// An instance as LIST shows it (built by the registry from its state).
    public init(
        service: String, instance: String, epoch: UInt64, endpoints: [String], metadata: [String: String],
        ttlMilliseconds: UInt64, ageMilliseconds: UInt64, sinceHeartbeatMilliseconds: UInt64,
        leaseLeftMilliseconds: UInt64
    ) {
        self.service = service
        self.instance = instance
        self.epoch = epoch
        self.endpoints = endpoints
        self.metadata = metadata
        self.ttlMilliseconds = ttlMilliseconds
        self.ageMilliseconds = ageMilliseconds
        self.sinceHeartbeatMilliseconds = sinceHeartbeatMilliseconds
        self.leaseLeftMilliseconds = leaseLeftMilliseconds
    }

    enum CodingKeys: String, CodingKey {
        case service, instance, epoch, endpoints, metadata
        case ttlMilliseconds = "ttl_ms"
        case ageMilliseconds = "age_ms"
        case sinceHeartbeatMilliseconds = "since_heartbeat_ms"
        case leaseLeftMilliseconds = "lease_left_ms"
    }
}

/// OK body of LIST: every live instance, sorted by service then instance id.
package struct ListResult: Codable, Hashable, Sendable {
    package var instances: [InstanceStatus]

    package init(instances: [InstanceStatus]) { self.instances = instances }
}

/// OK body of STATS: what the registry has served and refused since it started.
public struct RegistryStats: Codable, Hashable, Sendable {
    /// Requests served since the registry started, errors included.
    public var requests: UInt64
    /// Error replies (and dropped messages) by wire error code, as decimal strings.
    public var errors: [String: UInt64]
    /// Instances registered now.
    public var instances: Int
    /// Leases that ran out (instances that stopped heartbeating) since the start.
    public var expired: UInt64

    /// Counters, zero unless given.
    public init(requests: UInt64 = 0, errors: [String: UInt64] = [:], instances: Int = 0, expired: UInt64 = 0) {
        self.requests = requests
        self.errors = errors
        self.instances = instances
        self.expired = expired
    }

    /// How many replies carried `code` (the `errors` table read by code).
    public func errorCount(_ code: WireErrorCode) -> UInt64 { errors[String(code.rawValue)] ?? 0 }
}
