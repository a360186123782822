/// The body of a REGISTER request (protocol.md §5.4): who the instance is, where
/// it answers, and how long its lease lasts without a heartbeat.
public struct Registration: Codable, Hashable, Sendable {
    /// The service name (§5.2 grammar).
    public var service: String
    /// The instance id, unique within the service; stable across restarts of the same slot.
    public var instance: String
    /// The instance's start epoch: strictly greater for each new incarnation of the
    /// same instance id (nanoseconds since the Unix epoch at process start is typical).
    public var epoch: UInt64
    /// The instance's rpc endpoints, as clients should connect to them.
    public var endpoints: [String]
    /// Free-form string metadata (version, zone, ...), returned by LOOKUP.
    public var metadata: [String: String]
    /// The lease, in milliseconds, renewed by each heartbeat.
    public var ttlMilliseconds: UInt64

    /// `metadata` is optional; `ttlMilliseconds` must be within the registry's range
    /// (§5.2), which it checks on REGISTER (error 304 otherwise).
    public init(
        service: String, instance: String, epoch: UInt64, endpoints: [String],
        metadata: [String: String] = [:], ttlMilliseconds: UInt64
    ) {
        self.service = service
        self.instance = instance
        self.epoch = epoch
        self.endpoints = endpoints
        self.metadata = metadata
        self.ttlMilliseconds = ttlMilliseconds
    }

    enum CodingKeys: String, CodingKey {
        case service, instance, epoch, endpoints, metadata
        case ttlMilliseconds = "ttl_ms"
    }

    /// Decodes the §5.4 JSON (`ttl_ms`; `metadata` may be absent).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        service = try c.decode(String.self, forKey: .service)
        instance = try c.decode(String.self, forKey: .instance)
        epoch = try c.decode(UInt64.self, forKey: .epoch)
        endpoints = try c.decode([String].self, forKey: .endpoints)
        metadata = try c.decodeIfPresent([String: String].self, forKey: .metadata) ?? [:]
        ttlMilliseconds = try c.decode(UInt64.self, forKey: .ttlMilliseconds)
    }

    /// This registration's key.
    public var key: InstanceKey { InstanceKey(service: service, instance: instance, epoch: epoch) }

    /// Checks every field against §5.2 and `ttlRange`; nil when valid.
    package func validate(ttlRange: ClosedRange<UInt64> = RegistryLimits.defaultTTLRange) -> WireError? {
        if let e = key.validate() { return e }
        guard !endpoints.isEmpty, endpoints.count <= RegistryLimits.maxEndpoints else {
            return WireError(
                .invalidEndpoint,
                "an instance has 1-\(RegistryLimits.maxEndpoints) endpoints, this one has \(endpoints.count)")
        }
        for e in endpoints {
            if let error = RegistryLimits.validateEndpoint(e) { return error }
        }
        if let e = RegistryLimits.validateMetadata(metadata) { return e }
        guard ttlRange.contains(ttlMilliseconds) else {
            return WireError(
                .ttlOutOfRange, "ttl_ms \(ttlMilliseconds) is outside \(ttlRange.lowerBound)...\(ttlRange.upperBound)")
        }
        return nil
    }
}

/// The body of HEARTBEAT and DEREGISTER (protocol.md §5.5, §5.6): one incarnation of one instance.
public struct InstanceKey: Codable, Hashable, Sendable, CustomStringConvertible {
    /// The service name (§5.2 grammar).
    public var service: String
    /// The instance id within the service.
    public var instance: String
    /// The incarnation: strictly greater after each restart of the same instance id, so
    /// a late heartbeat of a dead incarnation is told apart (301 stale-epoch).
    public var epoch: UInt64

    /// The key of one incarnation; the registry checks the fields on each request.
    public init(service: String, instance: String, epoch: UInt64) {
        self.service = service
        self.instance = instance
        self.epoch = epoch
    }

    package func validate() -> WireError? {
        RegistryLimits.validateServiceName(service) ?? RegistryLimits.validateInstanceID(instance)
    }

    /// `service/instance@epoch`, for logs.
    public var description: String { "\(service)/\(instance)@\(epoch)" }
}
