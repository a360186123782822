/// The broker's configuration, as read from `Broker/broker.yaml` (every key
/// documented there) and overridden by flags. Decoding lives in the `metro`
/// executable (Yams); this module only defines the values and their defaults.
package struct BrokerConfiguration: Codable, Sendable, Equatable {
    package struct Endpoints: Codable, Sendable, Equatable {
        package var ingest = "tcp://127.0.0.1:7701"
        package var publish = "tcp://127.0.0.1:7702"
        package var events = "tcp://127.0.0.1:7703"
        package var consume = "tcp://127.0.0.1:7704"
        /// `host:port` of the Prometheus endpoint; empty disables it.
        package var metrics = "127.0.0.1:7709"
        package init() {}
    }

    package enum FsyncPolicy: String, Codable, Sendable, Equatable, CaseIterable {
        case always, interval, never
    }

    package struct Retention: Codable, Sendable, Equatable {
        package var maxBytes: Int64 = 10 << 30
        package var maxAgeHours: Int = 168
        package init() {}
    }

    package struct Journal: Codable, Sendable, Equatable {
        package var segmentBytes: Int64 = 128 << 20
        package var fsync: FsyncPolicy = .always
        package var fsyncIntervalMs: Int = 5
        package var retention = Retention()
        /// How often every sealed segment is read whole and its checksums checked
        /// in the background (`JournalScrubber`); 0 turns it off.
        package var scrubIntervalSeconds: Int = 86_400
        /// How fast a scrub reads (it waits between segments to keep to it).
        package var scrubBytesPerSecond: Int64 = 32 << 20
        package init() {}
    }

    package struct Limits: Codable, Sendable, Equatable {
        package var maxPayloadBytes: Int = 1 << 20
        package var sendHighWaterMark: Int = 100_000
        package var receiveHighWaterMark: Int = 100_000
        /// The most bytes of events the broker queues for one slow subscriber
        /// (the events socket's bound; see `eventsHighWaterMark`).
        package var subscriberBufferBytes: Int64 = 1 << 30
        /// The events socket's send high-water mark; 0 derives it from
        /// `subscriberBufferBytes` and the largest event.
        package var eventsHighWaterMark: Int = 0
        /// A replay that neither sends nor gets CREDIT this long ends with ERROR 109
        /// (protocol.md §4.9): how long a gone client's waiting replays stay.
        package var replayIdleMs: Int = 60_000
        package init() {}
    }

    package struct Dedupe: Codable, Sendable, Equatable {
        package var windowSeconds: Int = 120
        package var maxEntries: Int = 1_000_000
        package init() {}
    }

    /// CURVE on the four sockets (protocol.md §7; `Broker/broker.yaml`, `security`).
    package struct Security: Codable, Sendable, Equatable {
        /// Off (the default): plain ZMTP, anyone who reaches a port is in, as before.
        package var curve = false
        /// The broker's secret key file (`metro keys generate`'s NAME.key, mode 0600).
        package var secretKeyFile = ""
        /// The allow-list of client identities (protocol.md §7.3), reloaded on SIGHUP.
        package var allowList = ""
        /// The allow-list identity of the registry: the only one whose connections may
        /// publish `$registry.*` membership events (protocol.md §7.8).
        package var registryIdentity = "registry"
        package init() {}
    }

    package var endpoints = Endpoints()
    package var security = Security()
    package var dataDir = "data/broker"
    package var journal = Journal()
    package var limits = Limits()
    package var dedupe = Dedupe()
    package var heartbeatIntervalMs = 1000
    /// How long closing a socket at shutdown may wait for unsent messages.
    package var lingerMs = 1000

    package init() {}
}

// Every key is optional in the file: a missing key keeps its default.
extension BrokerConfiguration {
    enum CodingKeys: String, CodingKey {
        case endpoints, security, dataDir, journal, limits, dedupe, heartbeatIntervalMs, lingerMs
    }

    package init(from decoder: any Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        endpoints = try c.decodeIfPresent(Endpoints.self, forKey: .endpoints) ?? endpoints
        security = try c.decodeIfPresent(Security.self, forKey: .security) ?? security
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
    package init(from decoder: any Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        ingest = try c.decodeIfPresent(String.self, forKey: .ingest) ?? ingest
        publish = try c.decodeIfPresent(String.self, forKey: .publish) ?? publish
        events = try c.decodeIfPresent(String.self, forKey: .events) ?? events
        consume = try c.decodeIfPresent(String.self, forKey: .consume) ?? consume
        metrics = try c.decodeIfPresent(String.self, forKey: .metrics) ?? metrics
    }
}

extension BrokerConfiguration.Security {
    enum CodingKeys: String, CodingKey { case curve, secretKeyFile, allowList, registryIdentity }
    package init(from decoder: any Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        curve = try c.decodeIfPresent(Bool.self, forKey: .curve) ?? curve
        secretKeyFile = try c.decodeIfPresent(String.self, forKey: .secretKeyFile) ?? secretKeyFile
        allowList = try c.decodeIfPresent(String.self, forKey: .allowList) ?? allowList
        registryIdentity = try c.decodeIfPresent(String.self, forKey: .registryIdentity) ?? registryIdentity
    }
}

extension BrokerConfiguration.Journal {
    enum CodingKeys: String, CodingKey {
        case segmentBytes, fsync, fsyncIntervalMs, retention, scrubIntervalSeconds, scrubBytesPerSecond
    }
    package init(from decoder: any Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        segmentBytes = try c.decodeIfPresent(Int64.self, forKey: .segmentBytes) ?? segmentBytes
        fsync = try c.decodeIfPresent(BrokerConfiguration.FsyncPolicy.self, forKey: .fsync) ?? fsync
        fsyncIntervalMs = try c.decodeIfPresent(Int.self, forKey: .fsyncIntervalMs) ?? fsyncIntervalMs
        retention = try c.decodeIfPresent(BrokerConfiguration.Retention.self, forKey: .retention) ?? retention
        scrubIntervalSeconds = try c.decodeIfPresent(Int.self, forKey: .scrubIntervalSeconds) ?? scrubIntervalSeconds
        scrubBytesPerSecond = try c.decodeIfPresent(Int64.self, forKey: .scrubBytesPerSecond) ?? scrubBytesPerSecond
    }
}

extension BrokerConfiguration.Retention {
    enum CodingKeys: String, CodingKey { case maxBytes, maxAgeHours }
    package init(from decoder: any Decoder) throws {
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
    package init(from decoder: any Decoder) throws {
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
    package init(from decoder: any Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        windowSeconds = try c.decodeIfPresent(Int.self, forKey: .windowSeconds) ?? windowSeconds
        maxEntries = try c.decodeIfPresent(Int.self, forKey: .maxEntries) ?? maxEntries
    }
}
