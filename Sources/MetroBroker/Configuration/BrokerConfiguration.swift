/// The broker's configuration, as read from `Broker/broker.yaml` (every key
/// documented there) and overridden by flags. Decoding lives in the `metro`
/// executable (Yams); this module only defines the values and their defaults.
public struct BrokerConfiguration: Codable, Sendable, Equatable {
    public struct Endpoints: Codable, Sendable, Equatable {
        public var ingest = "tcp://127.0.0.1:7701"
        public var publish = "tcp://127.0.0.1:7702"
        public var events = "tcp://127.0.0.1:7703"
        public var consume = "tcp://127.0.0.1:7704"
        /// `host:port` of the Prometheus endpoint; empty disables it.
        public var metrics = "127.0.0.1:7709"
        public init() {}
    }

    public enum FsyncPolicy: String, Codable, Sendable, Equatable, CaseIterable {
        case always, interval, never
    }

    public struct Retention: Codable, Sendable, Equatable {
        public var maxBytes: Int64 = 10 << 30
        public var maxAgeHours: Int = 168
        public init() {}
    }

    public struct Journal: Codable, Sendable, Equatable {
        public var segmentBytes: Int64 = 128 << 20
        public var fsync: FsyncPolicy = .always
        public var fsyncIntervalMs: Int = 5
        public var retention = Retention()
        public init() {}
    }

    public struct Limits: Codable, Sendable, Equatable {
        public var maxPayloadBytes: Int = 1 << 20
        public var sendHighWaterMark: Int = 100_000
        public var receiveHighWaterMark: Int = 100_000
        /// The most bytes of events the broker queues for one slow subscriber
        /// (the events socket's bound; see `eventsHighWaterMark`).
        public var subscriberBufferBytes: Int64 = 1 << 30
        /// The events socket's send high-water mark; 0 derives it from
        /// `subscriberBufferBytes` and the largest event.
        public var eventsHighWaterMark: Int = 0
        /// A replay that neither sends nor gets CREDIT this long ends with ERROR 109
        /// (protocol.md §4.9): how long a gone client's waiting replays stay.
        public var replayIdleMs: Int = 60_000
        public init() {}
    }

    public struct Dedupe: Codable, Sendable, Equatable {
        public var windowSeconds: Int = 120
        public var maxEntries: Int = 1_000_000
        public init() {}
    }

    public var endpoints = Endpoints()
    public var dataDir = "data/broker"
    public var journal = Journal()
    public var limits = Limits()
    public var dedupe = Dedupe()
    public var heartbeatIntervalMs = 1000
    /// How long closing a socket at shutdown may wait for unsent messages.
    public var lingerMs = 1000

    public init() {}
}

// Every key is optional in the file: a missing key keeps its default.
extension BrokerConfiguration {
    enum CodingKeys: String, CodingKey {
        case endpoints, dataDir, journal, limits, dedupe, heartbeatIntervalMs, lingerMs
    }

    public init(from decoder: any Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        endpoints = try c.decodeIfPresent(Endpoints.self, forKey: .endpoints) ?? endpoints
        dataDir = try c.decodeIfPresent(String.self, forKey: .dataDir) ?? dataDir
        journal = try c.decodeIfPresent(Journal.self, forKey: .journal) ?? journal
        limits = try c.decodeIfPresent(Limits.self, forKey: .limits) ?? limits
        dedupe = try c.decodeIfPresent(Dedupe.self, forKey: .dedupe) ?? dedupe
        heartbeatIntervalMs = try c.decodeIfPresent(Int.self, forKey: .heartbeatIntervalMs) ?? heartbeatIntervalMs
        lingerMs = try c.decodeIfPresent(Int.self, forKey: .lingerMs) ?? lingerMs
    }
}

extension BrokerConfiguration.Endpoints {
    enum CodingKeys: String, CodingKey { case ingest, publish, events, consume, metrics }
    public init(from decoder: any Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        ingest = try c.decodeIfPresent(String.self, forKey: .ingest) ?? ingest
        publish = try c.decodeIfPresent(String.self, forKey: .publish) ?? publish
        events = try c.decodeIfPresent(String.self, forKey: .events) ?? events
        consume = try c.decodeIfPresent(String.self, forKey: .consume) ?? consume
        metrics = try c.decodeIfPresent(String.self, forKey: .metrics) ?? metrics
    }
}

extension BrokerConfiguration.Journal {
    enum CodingKeys: String, CodingKey { case segmentBytes, fsync, fsyncIntervalMs, retention }
    public init(from decoder: any Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        segmentBytes = try c.decodeIfPresent(Int64.self, forKey: .segmentBytes) ?? segmentBytes
        fsync = try c.decodeIfPresent(BrokerConfiguration.FsyncPolicy.self, forKey: .fsync) ?? fsync
        fsyncIntervalMs = try c.decodeIfPresent(Int.self, forKey: .fsyncIntervalMs) ?? fsyncIntervalMs
        retention = try c.decodeIfPresent(BrokerConfiguration.Retention.self, forKey: .retention) ?? retention
    }
}

extension BrokerConfiguration.Retention {
    enum CodingKeys: String, CodingKey { case maxBytes, maxAgeHours }
    public init(from decoder: any Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        maxBytes = try c.decodeIfPresent(Int64.self, forKey: .maxBytes) ?? maxBytes
        maxAgeHours = try c.decodeIfPresent(Int.self, forKey: .maxAgeHours) ?? maxAgeHours
    }
}

extension BrokerConfiguration.Limits {
    enum CodingKeys: String, CodingKey {
        case maxPayloadBytes, sendHighWaterMark, receiveHighWaterMark, subscriberBufferBytes, eventsHighWaterMark,
            replayIdleMs
    }
    public init(from decoder: any Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        maxPayloadBytes = try c.decodeIfPresent(Int.self, forKey: .maxPayloadBytes) ?? maxPayloadBytes
        sendHighWaterMark = try c.decodeIfPresent(Int.self, forKey: .sendHighWaterMark) ?? sendHighWaterMark
        receiveHighWaterMark = try c.decodeIfPresent(Int.self, forKey: .receiveHighWaterMark) ?? receiveHighWaterMark
        subscriberBufferBytes =
            try c.decodeIfPresent(Int64.self, forKey: .subscriberBufferBytes) ?? subscriberBufferBytes
        eventsHighWaterMark = try c.decodeIfPresent(Int.self, forKey: .eventsHighWaterMark) ?? eventsHighWaterMark
        replayIdleMs = try c.decodeIfPresent(Int.self, forKey: .replayIdleMs) ?? replayIdleMs
    }
}

extension BrokerConfiguration.Dedupe {
    enum CodingKeys: String, CodingKey { case windowSeconds, maxEntries }
    public init(from decoder: any Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        windowSeconds = try c.decodeIfPresent(Int.self, forKey: .windowSeconds) ?? windowSeconds
        maxEntries = try c.decodeIfPresent(Int.self, forKey: .maxEntries) ?? maxEntries
    }
}
