public import Foundation

/// The result of a soak run as a person reads it: totals, latency percentiles,
/// the fault timeline with recovery times, every process's RSS and CPU over
/// time, and every invariant's verdict (issue 16 §4).
///
/// `build(configuration:history:checker:finishedAt:)` computes it from the
/// driver's history and the checker's result, with no I/O; `json()`,
/// `markdown()`, `html()` and `terminalSummary()` render it. The JSON is the
/// model itself (`version` 1), so tools read the same numbers the pages show.
public struct SoakReport: Codable, Sendable, Equatable {
    /// The shape of this document; bumped when a field changes meaning (2: `sent`
    /// and `failed` no longer count the arrivals the soak did not send, which are
    /// `notStarted`; `failures` added).
    public var version: Int
    /// Wall-clock start of the run (`SoakHistory.startedAt`) and when the report was built.
    public var startedAt: Date
    public var finishedAt: Date
    /// The length of the run in seconds: from its start to the last thing the history
    /// saw (an operation's end, a sample, a fault's end or recovery).
    public var runSeconds: Double
    public var configuration: SoakConfiguration
    /// The command that repeats this run (same seed, rate, duration, chaos, instances).
    public var reproduce: String
    public var totals: SoakTotals
    /// What did not succeed, by kind and cause, against the faults (`FailureGroup`).
    public var failures: [FailureGroup]
    /// Latency summaries in a fixed order: `publish→ACK`, `upload→processed`,
    /// `view→visible`, then `<via> <kind>` for every request kind seen.
    public var latencies: [LatencySummary]
    /// The injected faults in the order they happened.
    public var faults: [FaultEntry]
    /// One entry per process name, sorted by name.
    public var processes: [ProcessReport]
    /// Every invariant's verdict, in the order the checker gave them; an invariant the
    /// contract names but the checker did not report is added as not holding
    /// ("not checked"), so a silent checker can never make a run pass.
    public var invariants: [InvariantVerdict]
    /// True when there is at least one verdict and every verdict holds.
    public var passed: Bool

    /// The invariants every soak run must check (spec16.md: the names are stable).
    public static let expectedInvariants = [
        "uploads-processed-once", "views-in-history-once", "views-in-model-once", "acked-events-in-journal",
        "seqs-increase-ids-unique", "groups-drain", "requests-answer-in-deadline", "rss-bounded",
    ]

    /// The failed invariants, in report order.
    public var failedInvariants: [InvariantVerdict] { invariants.filter { !$0.holds } }

    /// The report as pretty JSON with sorted keys and ISO-8601 dates (`soak-report.json`).
    public func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return try encoder.encode(self)
    }

    /// Writes `soak-report.json`, `soak-report.md` and `soak-report.html` into `folder`
    /// (created if missing) and returns their URLs in that order.
    @discardableResult
    public func write(toFolder folder: URL) throws -> [URL] {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let files = [
            ("soak-report.json", try json()), ("soak-report.md", Data(markdown().utf8)),
            ("soak-report.html", Data(html().utf8)),
        ]
        return try files.map { name, data in
            let url = folder.appendingPathComponent(name)
            try data.write(to: url, options: .atomic)
            return url
        }
    }

    /// Reads a report written by `json()`.
    public static func decode(_ data: Data) throws -> SoakReport {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(SoakReport.self, from: data)
    }
}

/// Operation counts and achieved rates, per kind and overall.
public struct SoakTotals: Codable, Sendable, Equatable {
    /// The seconds the rates are over: from the first operation's start to the last one's end.
    public var loadSeconds: Double
    /// One row per operation kind, in `SoakOperation.Kind.allCases` order (kinds never sent included, as zeros).
    public var byKind: [OperationTotals]
    public var overall: OperationTotals
}

/// The counts of one operation kind (or of all, with `kind` "all").
public struct OperationTotals: Codable, Sendable, Equatable {
    public var kind: String
    /// Operations sent to the system: `ok + failed + timedOut`.
    public var sent: Int
    public var ok: Int
    public var failed: Int
    public var timedOut: Int
    /// Arrivals the soak did not send: `--concurrency` operations were already in
    /// flight (`SoakOperation.notStarted`). Not an answer of the system, but a sign
    /// that it was slow to answer the ones in flight.
    public var notStarted: Int
    /// Operations sent per second over `SoakTotals.loadSeconds`.
    public var sentPerSecond: Double
    /// Acknowledged (ok) operations per second over `SoakTotals.loadSeconds`: the achieved rate.
    public var okPerSecond: Double
}

/// One injected fault as the timeline shows it.
public struct FaultEntry: Codable, Sendable, Equatable {
    public var kind: String
    public var target: String
    /// Seconds from the run's start to the injection.
    public var atSeconds: Double
    /// How long the fault itself lasted (0 for a kill).
    public var durationSeconds: Double
    /// Seconds from the injection until the system was whole again; nil: never, before the run ended.
    public var recoverySeconds: Double?
    public var recovered: Bool
    public var detail: String
}
