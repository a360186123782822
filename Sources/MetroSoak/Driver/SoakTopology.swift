/// The system a soak runs against: its endpoints, the instances it must have
/// for it to be whole, and (when the driver may inject faults) the `metro up`
/// whose children are the targets.
public struct SoakTopology: Sendable {
    public var ingest: String
    public var publish: String
    public var events: String
    public var consume: String
    public var registry: String
    /// host:port of the gateway's HTTP, nil when none runs.
    public var gateway: String?
    /// The service instances that must be registered: (service, instance id).
    public var instances: [SoakInstance]
    /// The `metro up` process whose children the chaos may hit; nil: no chaos possible.
    public var upPid: Int32?
    /// CURVE keys and a gateway token for a secure system; nil: plain.
    public var security: SoakSecurity? = nil

    public init(
        ingest: String, publish: String, events: String, consume: String, registry: String, gateway: String?,
        instances: [SoakInstance], upPid: Int32?
    ) {
        self.ingest = ingest
        self.publish = publish
        self.events = events
        self.consume = consume
        self.registry = registry
        self.gateway = gateway
        self.instances = instances
        self.upPid = upPid
    }

    /// What the checker is given. The broker has no replay socket of its own:
    /// replay is a command on the consume socket (protocol.md §4.9).
    public var checkerEndpoints: SoakEndpoints {
        SoakEndpoints(
            ingest: ingest, events: events, replay: consume, consume: consume, registry: registry,
            gatewayURL: gateway.map { "http://\($0)" }, security: security)
    }

    /// Instances per component, for the report ("broker": 1, "video": 2, ...).
    public var instanceCounts: [String: Int] {
        var counts = ["broker": 1, "registry": 1]
        if gateway != nil { counts["gateway"] = 1 }
        for instance in instances { counts[instance.service, default: 0] += 1 }
        return counts
    }
}

/// One registered service instance ("video", "video-2").
public struct SoakInstance: Sendable, Hashable {
    public var service: String
    public var instance: String

    public init(service: String, instance: String) {
        self.service = service
        self.instance = instance
    }
}
