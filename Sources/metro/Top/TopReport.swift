import Foundation
import MetroProtocol

/// What `metro top` shows, computed from the latest sample and the one before
/// it: totals from the latest, rates (per second) from the difference. A rate
/// is nil without a previous sample, or when a counter went down (the broker
/// restarted and its counters began again at 0). The `--once --json` object is
/// `json` (its shape is documented in docs/operations.md, "metro top").
struct TopReport: Sendable {
    struct Topic: Sendable, Equatable {
        let prefix: String
        let inTotal: UInt64
        let outTotal: UInt64
        let inRate: Double?
        let outRate: Double?
    }

    struct Group: Sendable, Equatable {
        let name: String
        let stats: GroupStats
    }

    struct Service: Sendable {
        let name: String
        let instances: [InstanceStatus]
    }

    let sample: TopSample
    let intervalSeconds: Double?
    let topics: [Topic]
    let inRate: Double?
    let outRate: Double?
    let groups: [Group]
    let services: [Service]
    /// The gateway's rates over the interval; nil without a gateway figure now and before.
    let gateway: GatewayRates?

    /// Per second over the interval, and the p99 of the requests in it.
    struct GatewayRates: Sendable, Equatable {
        var requests: Double
        var status5xx: Double
        var status4xx: Double
        var tooMany: Double
        var shed: Double
        /// Upper bound of the p99 request duration, seconds; nil without a request.
        var p99: Double?
    }

    init(_ now: TopSample, previous: TopSample?) {
        sample = now
        let seconds = previous.map { before -> Double in
            let d = before.taken.duration(to: now.taken).components
            return Double(d.seconds) + Double(d.attoseconds) / 1e18
        }
        intervalSeconds = seconds
        let before = previous.flatMap { try? $0.broker.get() }
        func rate(_ new: UInt64, _ old: UInt64?) -> Double? {
            guard let old, let seconds, seconds > 0, new >= old else { return nil }
            return Double(new - old) / seconds
        }
        if let stats = try? now.broker.get() {
            var rows = stats.topics.map { name, flow in
                Topic(
                    prefix: name, inTotal: flow.in, outTotal: flow.out, inRate: rate(flow.in, before?.topics[name]?.in),
                    outRate: rate(flow.out, before?.topics[name]?.out))
            }
            rows.sort {
                ($0.inRate ?? 0) + ($0.outRate ?? 0) > ($1.inRate ?? 0) + ($1.outRate ?? 0) || $0.prefix < $1.prefix
            }
            let other = stats.otherTopics
            if other.in > 0 || other.out > 0 {
                rows.append(
                    Topic(
                        prefix: "(other)", inTotal: other.in, outTotal: other.out,
                        inRate: rate(other.in, before?.otherTopics.in),
                        outRate: rate(other.out, before?.otherTopics.out)))
            }
            topics = rows
            inRate = rate(Self.totalIn(stats), before.map(Self.totalIn))
            outRate = rate(Self.totalOut(stats), before.map(Self.totalOut))
            groups = stats.groups.map { Group(name: $0.key, stats: $0.value) }.sorted { $0.name < $1.name }
        } else {
            topics = []
            inRate = nil
            outRate = nil
            groups = []
        }
        if let seconds, seconds > 0, let new = try? now.gateway?.get(),
            let old = try? previous?.gateway?.get(), new.requests >= old.requests
        {
            func per(_ a: Double, _ b: Double) -> Double { max(0, a - b) / seconds }
            gateway = GatewayRates(
                requests: per(new.requests, old.requests),
                status5xx: per(new.requestsByClass["5xx", default: 0], old.requestsByClass["5xx", default: 0]),
                status4xx: per(new.requestsByClass["4xx", default: 0], old.requestsByClass["4xx", default: 0]),
                tooMany: per(new.tooMany, old.tooMany), shed: per(new.shed, old.shed),
                p99: new.latencyQuantile(0.99, since: old))
        } else {
            gateway = nil
        }
        let instances = (try? now.registry.get()) ?? []
        services = Dictionary(grouping: instances, by: \.service).map { Service(name: $0.key, instances: $0.value) }
            .sorted { $0.name < $1.name }
    }

    static func totalIn(_ s: BrokerStats) -> UInt64 { s.topics.values.reduce(s.otherTopics.in) { $0 + $1.in } }
    static func totalOut(_ s: BrokerStats) -> UInt64 { s.topics.values.reduce(s.otherTopics.out) { $0 + $1.out } }

    /// The `--once --json` object.
    func json(brokerEndpoint: String, registryEndpoints: [String], gatewayAddress: String? = nil) -> [String: Any] {
        var broker: [String: Any] = ["endpoint": brokerEndpoint]
        switch sample.broker {
        case .success(let s):
            broker["ok"] = true
            broker["headSeq"] = s.headSeq
            broker["rssBytes"] = s.rssBytes
            broker["journalSizeBytes"] = s.journalSizeBytes
            broker["segments"] = s.segments
            broker["eventsIn"] = Self.totalIn(s)
            broker["eventsOut"] = Self.totalOut(s)
            broker["inPerSecond"] = inRate ?? NSNull()
            broker["outPerSecond"] = outRate ?? NSNull()
            broker["topics"] = topics.map {
                [
                    "prefix": $0.prefix, "in": $0.inTotal, "out": $0.outTotal, "inPerSecond": $0.inRate ?? NSNull(),
                    "outPerSecond": $0.outRate ?? NSNull(),
                ] as [String: Any]
            }
            broker["groups"] = groups.map {
                [
                    "name": $0.name, "members": $0.stats.members, "lag": $0.stats.lag, "pending": $0.stats.pending,
                    "redelivered": $0.stats.redelivered, "deadLettered": $0.stats.deadLettered,
                    "expired": $0.stats.expired, "position": $0.stats.position,
                    "damagedSkipped": $0.stats.damagedSkipped,
                    "stalled": $0.stats.stalled.map { s in
                        [
                            "seq": s.seq.map { $0 as Any } ?? NSNull(), "segment": s.segment, "offset": s.offset,
                            "error": s.error,
                        ] as [String: Any]
                    } ?? NSNull(),
                ] as [String: Any]
            }
        case .failure(let f):
            broker["ok"] = false
            broker["error"] = f.description
        }
        var registry: [String: Any] = ["endpoints": registryEndpoints]
        switch sample.registry {
        case .success:
            registry["ok"] = true
            registry["services"] = services.map { service in
                [
                    "service": service.name,
                    "instances": service.instances.map {
                        [
                            "instance": $0.instance, "endpoints": $0.endpoints, "ageMs": $0.ageMilliseconds,
                            "sinceHeartbeatMs": $0.sinceHeartbeatMilliseconds, "leaseLeftMs": $0.leaseLeftMilliseconds,
                        ] as [String: Any]
                    },
                ] as [String: Any]
            }
        case .failure(let f):
            registry["ok"] = false
            registry["error"] = f.description
        }
        var object: [String: Any] = [
            "time": TailPrinter.isoTime(sample.wallNs), "intervalSeconds": intervalSeconds ?? NSNull(),
            "broker": broker, "registry": registry,
        ]
        if let processes = sample.processes {
            object["processes"] = processes.json(now: Date(timeIntervalSince1970: Double(sample.wallNs) / 1e9))
        }
        if let address = gatewayAddress, let result = sample.gateway {
            var gateway: [String: Any] = ["address": address]
            switch result {
            case .success(let g):
                gateway["ok"] = true
                gateway["requests"] = g.requests
                gateway["requestsByClass"] = g.requestsByClass
                gateway["shedByReason"] = g.shedByReason
                gateway["upstreams"] = g.upstreams.mapValues { ["limit": $0.limit, "inFlight": $0.inFlight] }
                gateway["requestsPerSecond"] = self.gateway?.requests ?? NSNull()
                gateway["status5xxPerSecond"] = self.gateway?.status5xx ?? NSNull()
                gateway["status429PerSecond"] = self.gateway?.tooMany ?? NSNull()
                gateway["shedPerSecond"] = self.gateway?.shed ?? NSNull()
                // An upper bound; past the last finite bucket it is "+Inf" (JSON has no infinity).
                gateway["p99Seconds"] = self.gateway?.p99.map { $0.isFinite ? $0 as Any : "+Inf" } ?? NSNull()
            case .failure(let f):
                gateway["ok"] = false
                gateway["error"] = f.description
            }
            object["gateway"] = gateway
        }
        return object
    }
}
