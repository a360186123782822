// STAND-IN — replaced at merge by the checker/report branches.
//
// The lead deletes this file when the `soak-checker` (Sources/MetroSoak/Checker)
// and `soak-report` (Sources/MetroSoak/Report) branches land. It declares only
// the public entry points the driver calls, with the exact signatures of
// /work/prompts/spec16.md, so that the driver compiles unchanged against the
// real ones. It checks NOTHING: every verdict says "not checked (stand-in)"
// and counts as holding, and the report is a bare dump of what it is given.
public import Foundation
public import Logging

/// Where the checker reaches the running system (stand-in of Checker/SoakEndpoints.swift).
public struct SoakEndpoints: Sendable {
    public var ingest: String
    public var events: String
    public var replay: String
    public var consume: String
    public var registry: String
    public var gatewayURL: String?

    public init(
        ingest: String, events: String, replay: String, consume: String, registry: String, gatewayURL: String? = nil
    ) {
        self.ingest = ingest
        self.events = events
        self.replay = replay
        self.consume = consume
        self.registry = registry
        self.gatewayURL = gatewayURL
    }
}

/// Stand-in of the checker: watches nothing, finds nothing.
public actor SoakChecker {
    public static let invariantNames = [
        "uploads-processed-once", "views-in-history-once", "views-in-model-once", "acked-events-in-journal",
        "seqs-increase-ids-unique", "groups-drain", "requests-answer-in-deadline", "rss-bounded",
    ]

    public init(endpoints: SoakEndpoints, logger: Logger) {}

    public func start(fromSeq: UInt64) async throws {}

    public func liveViolationCount() -> Int { 0 }

    public func viewAcknowledged(userId: String, videoId: String, eventId: String, ackNs: UInt64) {}

    public func finish(history: SoakHistory, drainTimeout: Duration) async -> CheckerResult {
        CheckerResult(
            verdicts: Self.invariantNames.map {
                InvariantVerdict(
                    name: $0, statement: "(stand-in)", holds: true, checked: 0,
                    detail: "not checked: stand-in until the checker branch is merged")
            }, latenciesMs: [:])
    }
}

/// Stand-in of the report: the configuration, the history's totals and the verdicts.
public struct SoakReport: Codable, Sendable {
    public var version = 1
    public var configuration: SoakConfiguration
    public var finishedAt: Date
    public var operations: Int
    public var faults: [SoakFault]
    public var verdicts: [InvariantVerdict]

    public static func build(
        configuration: SoakConfiguration, history: SoakHistory, checker: CheckerResult, finishedAt: Date
    ) -> SoakReport {
        SoakReport(
            configuration: configuration, finishedAt: finishedAt, operations: history.operations.count,
            faults: history.faults, verdicts: checker.verdicts)
    }

    public func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return try encoder.encode(self)
    }

    public func markdown() -> String {
        "# Soak report (stand-in)\n\n"
            + verdicts.map { "- \($0.name): \($0.holds ? "holds" : "FAILS")" }
            .joined(separator: "\n") + "\n"
    }

    public func html() -> String {
        "<!doctype html><title>Soak report (stand-in)</title><ul>"
            + verdicts.map { "<li>\($0.name): \($0.holds ? "holds" : "FAILS")</li>" }.joined() + "</ul>"
    }

    public var passed: Bool { verdicts.allSatisfy(\.holds) }

    public func terminalSummary() -> String {
        "\(operations) operations, \(faults.count) faults; invariants: "
            + verdicts.map { "\($0.name) \($0.holds ? "holds" : "FAILS")" }.joined(separator: ", ")
    }
}
