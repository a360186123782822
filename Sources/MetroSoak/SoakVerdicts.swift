public import Foundation

/// The verdict on one invariant of a soak run.
public struct InvariantVerdict: Codable, Sendable, Equatable {
    /// A stable name ("uploads-processed-once", "views-in-history", ...).
    public var name: String
    /// The invariant in words, for the report.
    public var statement: String
    public var holds: Bool
    /// How many items were checked (acknowledged uploads, views, seqs, ...).
    public var checked: Int
    /// What the checker saw, in a sentence ("412 uploads, each with one outcome").
    public var detail: String
    /// The offending ids (event ids, video ids, seqs), at most 50.
    public var offending: [String]
    /// How many offended in all (may exceed `offending.count`).
    public var offendingCount: Int

    public init(
        name: String, statement: String, holds: Bool, checked: Int, detail: String, offending: [String] = [],
        offendingCount: Int = 0
    ) {
        self.name = name
        self.statement = statement
        self.holds = holds
        self.checked = checked
        self.detail = detail
        self.offending = Array(offending.prefix(50))
        self.offendingCount = max(offendingCount, offending.count)
    }
}

/// What the checker found: the verdicts, and the latencies only it can see
/// (the driver sees publish→ACK and request latencies itself).
public struct CheckerResult: Codable, Sendable {
    public var verdicts: [InvariantVerdict]
    /// Latency samples in milliseconds, by name: "upload→processed" (ACK of the
    /// upload to its `video.processed` in the journal), "view→visible" (ACK of a
    /// sampled view to its count in `recommendations.seen`).
    public var latenciesMs: [String: [Double]]

    public init(verdicts: [InvariantVerdict], latenciesMs: [String: [Double]]) {
        self.verdicts = verdicts
        self.latenciesMs = latenciesMs
    }

    public var passed: Bool { verdicts.allSatisfy(\.holds) }
}

/// How the run was set up, as the report prints it.
public struct SoakConfiguration: Codable, Sendable, Equatable {
    public var seed: UInt64
    /// Operations per second the driver aimed at.
    public var targetRate: Double
    public var durationSeconds: Double
    public var chaos: Bool
    /// True when the run attached to a running system (`--attach`).
    public var attached: Bool
    public var realMedia: Bool
    /// True when recommendation requests went through the gateway.
    public var throughGateway: Bool
    /// The share of each operation kind in the mix (sums to 1).
    public var mix: [String: Double]
    /// Instances started (or found) per component: "broker": 1, "video": 2, ...
    public var instances: [String: Int]
    public var dataFolder: String
    public var host: String
    public var cores: Int
    /// True when the system ran with CURVE on every socket (`--secure`, or attached
    /// with `--keys`); nil in reports written before 2026-12-05 (plain).
    public var secure: Bool?
    /// Attach mode: the flags that named the system (endpoints, `--keys`), for the
    /// repeat command; nil in reports written before 2026-12-05.
    public var attachFlags: [String]?

    public init(
        seed: UInt64, targetRate: Double, durationSeconds: Double, chaos: Bool, attached: Bool, realMedia: Bool,
        throughGateway: Bool, mix: [String: Double], instances: [String: Int], dataFolder: String, host: String,
        cores: Int
    ) {
        self.seed = seed
        self.targetRate = targetRate
        self.durationSeconds = durationSeconds
        self.chaos = chaos
        self.attached = attached
        self.realMedia = realMedia
        self.throughGateway = throughGateway
        self.mix = mix
        self.instances = instances
        self.dataFolder = dataFolder
        self.host = host
        self.cores = cores
    }

    /// Whether the system ran with CURVE (nil counts as plain).
    public var isSecure: Bool { secure ?? false }
}
