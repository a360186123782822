/// A membership change the registry publishes (protocol.md §5.10):
/// `[$registry.<kind>] [headers: json "{}"] [payload: json]`, topic first so that
/// ZeroMQ's prefix filtering works (§2.2).
public struct MembershipEvent: Codable, Hashable, Sendable {
    /// What happened to the instance: it registered, deregistered (a graceful stop),
    /// or its lease expired (no heartbeat within its TTL: likely a crash).
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case registered, deregistered, expired

        /// The reserved topic this kind is published on.
        package var topic: String { Topic.registryPrefix + rawValue }
    }

    /// What happened.
    public var kind: Kind
    /// The service the instance belongs to.
    public var service: String
    /// The instance id within the service.
    public var instance: String
    /// The incarnation (see `Registration.epoch`): a change of epoch is a restart.
    public var epoch: UInt64
    /// The instance's rpc endpoints (drop them from a balancer on `deregistered`/`expired`).
    public var endpoints: [String]
    /// The instance's metadata as registered.
    public var metadata: [String: String]
    /// Wall-clock time of the change, nanoseconds since the Unix epoch (§2.5).
    public var timestampNanoseconds: UInt64

    /// The event the registry publishes when `r` changes membership.
    public init(_ kind: Kind, _ r: Registration, timestampNanoseconds: UInt64) {
        self.kind = kind
        service = r.service
        instance = r.instance
        epoch = r.epoch
        endpoints = r.endpoints
        metadata = r.metadata
        self.timestampNanoseconds = timestampNanoseconds
    }

    enum CodingKeys: String, CodingKey {
        case kind = "event"
        case service, instance, epoch, endpoints, metadata
        case timestampNanoseconds = "ts"
    }

    package static let headersFrame: [UInt8] = Array("{}".utf8)

    /// The three frames as published.
    package func encode() -> [[UInt8]] {
        [Array(kind.topic.utf8), Self.headersFrame, RegistryJSON.encode(self)]
    }

    /// Decodes an event from a subscriber's frames: the first frame is the topic and
    /// the last the JSON payload, so frames a broker adds in between (a sequence
    /// number) are tolerated. Nil for anything else.
    package static func decode(_ frames: [[UInt8]]) -> MembershipEvent? {
        guard frames.count >= 2, let topic = String(validating: frames[0], as: UTF8.self),
            topic.hasPrefix(Topic.registryPrefix), let payload = frames.last,
            case .success(let event) = RegistryJSON.decode(MembershipEvent.self, from: payload, what: "event"),
            event.kind.topic == topic
        else { return nil }
        return event
    }
}
