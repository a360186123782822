import Foundation
import Testing

@testable import MetroSoak

/// `SoakReport.build` against hand-made histories whose numbers are known.
@Suite struct ReportBuildTests {
    private func report(
        operations: [SoakOperation] = [], faults: [SoakFault] = [], samples: [ProcessSample] = [],
        checker: CheckerResult = ReportFixtures.checker()
    ) -> SoakReport {
        SoakReport.build(
            configuration: ReportFixtures.configuration(),
            history: SoakHistory(
                startedAt: ReportFixtures.startedAt, startSeq: 0, operations: operations, faults: faults,
                samples: samples),
            checker: checker, finishedAt: ReportFixtures.finishedAt)
    }

    private func view(at startMs: UInt64, lastingMs: Double, outcome: SoakOperation.Outcome = .ok) -> SoakOperation {
        SoakOperation(
            kind: .view, startNs: startMs * 1_000_000, endNs: startMs * 1_000_000 + UInt64(lastingMs * 1e6),
            outcome: outcome, eventId: "e-\(startMs)", via: "broker")
    }

    /// 1000 views taking 1, 2, ... 1000 ms, shuffled: the percentiles are the
    /// distribution's own, within HdrHistogram's three significant digits.
    @Test func percentilesMatchAKnownDistribution() throws {
        var rng = SoakRandom(seed: 1)
        let latencies = (1...1000).map(Double.init).shuffled(using: &rng)
        let ops = latencies.enumerated().map { view(at: UInt64($0.offset) * 100, lastingMs: $0.element) }
        let summary = try #require(report(operations: ops).latencies.first { $0.name == "publish→ACK" })
        #expect(summary.count == 1000)
        for (value, expected) in [
            (summary.p50Ms, 500.0), (summary.p90Ms, 900), (summary.p99Ms, 990), (summary.p999Ms, 999),
        ] {
            #expect(abs(value - expected) <= expected * 0.001 + 0.001, "\(value) vs \(expected)")
        }
        #expect(summary.maxMs == 1000)
    }

    /// One p99 per 10-s window, from the operations that started in it.
    @Test func p99PerTenSecondWindow() throws {
        // Window 0 (0–10 s): 100 views of 1 ms; window 2 (20–30 s): 99 of 2 ms and one of 50 ms.
        var ops = (0..<100).map { view(at: UInt64($0) * 50, lastingMs: 1) }
        ops += (0..<99).map { view(at: 20_000 + UInt64($0) * 50, lastingMs: 2) }
        ops.append(view(at: 29_000, lastingMs: 50))
        let summary = try #require(report(operations: ops).latencies.first { $0.name == "publish→ACK" })
        #expect(summary.p99Windows.map(\.startSeconds) == [0, 20])
        #expect(summary.p99Windows.map(\.count) == [100, 100])
        #expect(abs(summary.p99Windows[0].p99Ms - 1) < 0.01)
        #expect(abs(summary.p99Windows[1].p99Ms - 2) < 0.01)
        // The checker's latencies carry no times: summarised, without a series.
        let checkerOnly = try #require(report(operations: ops).latencies.first { $0.name == "view→visible" })
        #expect(checkerOnly.count == 500)
        #expect(checkerOnly.p99Windows.isEmpty)
    }

    @Test func totalsCountOutcomesAndRatesOverTheLoadSpan() throws {
        // 10 s of load: 8 ok views, 1 failed, 1 timed out; 2 rpc sign-ups ok.
        var ops = (0..<8).map { view(at: UInt64($0) * 1000, lastingMs: 5) }
        ops.append(view(at: 8000, lastingMs: 5, outcome: .failed))
        ops.append(view(at: 8000, lastingMs: 2000, outcome: .timedOut))  // ends at 10 s
        for at: UInt64 in [1000, 2000] {
            ops.append(
                SoakOperation(
                    kind: .signUp, startNs: at * 1_000_000, endNs: at * 1_000_000 + 3_000_000, outcome: .ok, via: "rpc")
            )
        }
        let built = report(operations: ops)
        #expect(built.totals.loadSeconds == 10)
        let views = try #require(built.totals.byKind.first { $0.kind == "view" })
        #expect((views.sent, views.ok, views.failed, views.timedOut) == (10, 8, 1, 1))
        #expect(views.okPerSecond == 0.8)
        #expect(built.totals.overall.sent == 12)
        #expect(built.totals.overall.okPerSecond == 1)
        #expect(built.totals.byKind.map(\.kind) == SoakOperation.Kind.allCases.map(\.rawValue))
        // Latencies only of ok operations: the 2-s timeout is not publish→ACK's max.
        #expect(built.latencies.first { $0.name == "publish→ACK" }?.maxMs == 5)
        #expect(built.latencies.first { $0.name == "rpc signUp" }?.count == 2)
    }

    /// A fault of the broker from `from` to `to` seconds, whole again at `wholeAgain` (nil: never).
    private static func fault(_ kind: SoakFault.Kind, from: UInt64, to: UInt64, wholeAgain: UInt64?) -> SoakFault {
        SoakFault(
            kind: kind, target: "broker", startNs: from * 1_000_000_000, endNs: to * 1_000_000_000,
            wholeAgainNs: wholeAgain.map { $0 * 1_000_000_000 }, detail: "\(kind)")
    }

    private func diskFull(from: UInt64, to: UInt64, wholeAgain: UInt64?) -> SoakFault {
        Self.fault(.diskFull, from: from, to: to, wholeAgain: wholeAgain)
    }

    /// Arrivals the soak did not send (its in-flight limit was full) are neither sent nor failed.
    @Test func arrivalsNotSentAreCountedApartFromFailures() throws {
        var ops = (0..<4).map { view(at: UInt64($0) * 1000, lastingMs: 5) }
        ops.append(view(at: 4000, lastingMs: 5, outcome: .failed))
        for at: UInt64 in [5000, 6000, 7000] {
            ops.append(
                SoakOperation(
                    kind: .view, startNs: at * 1_000_000, endNs: at * 1_000_000, outcome: .failed,
                    error: HistoryRecorder.saturatedPrefix + " (64 in flight)", via: "none"))
        }
        let built = report(operations: ops)
        let views = try #require(built.totals.byKind.first { $0.kind == "view" })
        #expect((views.sent, views.ok, views.failed, views.timedOut, views.notStarted) == (5, 4, 1, 0, 3))
        #expect(built.totals.overall.notStarted == 3)
        #expect(built.failures.map(\.outcome) == ["notStarted", "failed"])
        #expect(built.failures.map(\.count) == [3, 1])
    }

    /// One row per kind and cause (ids folded), with the faults it overlapped and the
    /// count that overlapped none.
    @Test func failuresAreGroupedByCauseAndSetAgainstTheFaults() throws {
        func upload(at ms: UInt64, _ video: String, _ outcome: SoakOperation.Outcome = .failed) -> SoakOperation {
            SoakOperation(
                kind: .upload, startNs: ms * 1_000_000, endNs: (ms + 50) * 1_000_000, outcome: outcome,
                error: outcome == .failed ? "rpc video.upload rejected: 407 publish-pending: video \(video)" : nil,
                deadlineMs: 5000, via: "rpc")
        }
        let ops = [
            // During F1 (10–14 s), during F2 (30 s, never whole again), and one outside both.
            upload(at: 11_000, "45e24388-c43c-49e1-a8f4-b6aa00000001"),
            upload(at: 31_000, "e5326896-7e85-42a1-9a27-2faa00000002"),
            upload(at: 20_000, "967bbc81-c619-4851-8d00-6caa00000003"),
            upload(at: 21_000, "unused", .timedOut),
            upload(at: 22_000, "unused", .ok),
        ]
        let faults = [
            diskFull(from: 10, to: 13, wholeAgain: 14), Self.fault(.pause, from: 30, to: 32, wholeAgain: nil),
        ]
        let built = report(operations: ops, faults: faults)
        #expect(built.failures.count == 2)
        let pending = try #require(built.failures.first)
        #expect(pending.cause == "rpc video.upload rejected: 407 publish-pending: video <id>")
        #expect((pending.kind, pending.outcome, pending.count) == ("upload", "failed", 3))
        #expect(pending.duringFaults == ["F1", "F2"])
        #expect(pending.outsideFaults == 1)
        let timeout = try #require(built.failures.last)
        #expect(
            (timeout.outcome, timeout.cause, timeout.outsideFaults) == ("timedOut", "no answer within the deadline", 1))
        let markdown = built.markdown()
        #expect(markdown.contains("4 operations did not succeed (3 failed, 1 timed out, 0 not started); 2 of them"))
        #expect(
            markdown.contains(
                "| upload | failed | rpc video.upload rejected: 407 publish-pending: video \\<id\\> | 3 | F1, F2 | **1** |"
            )
        )
        #expect(built.terminalSummary().contains("outside any fault: 1 upload failed: rpc video.upload rejected"))
    }

    /// A request shed as overloaded just after a fault was whole again is set against
    /// that fault when operations of its kind stuck in it were still in flight (they
    /// held the permits); one with none such in flight stays outside any fault, and
    /// so does any other failure at that time.
    @Test func aRequestShedWhileTheFaultsRequestsHeldThePermitsIsDuringThatFault() throws {
        func upload(at ms: UInt64, lastingMs: UInt64 = 20, error: String? = nil) -> SoakOperation {
            SoakOperation(
                kind: .upload, startNs: ms * 1_000_000, endNs: (ms + lastingMs) * 1_000_000,
                outcome: error == nil ? .ok : .failed, error: error, deadlineMs: 5000, via: "http")
        }
        let shed = "HTTP 429 (overloaded): 'video' is at its concurrency limit; retry later [request <id>]"
        let ops = [
            upload(at: 13_000, lastingMs: 4000),  // stuck in F1 (10–14 s), ends at 17 s
            upload(at: 15_000, error: shed),  // after F1 was whole again, that upload still in flight
            upload(at: 16_000, error: "HTTP 500 (internal): boom"),  // not an overload: outside
            upload(at: 40_000, error: shed),  // nothing of F1 in flight: outside
        ]
        let built = report(operations: ops, faults: [diskFull(from: 10, to: 13, wholeAgain: 14)])
        let overload = try #require(built.failures.first { $0.cause.hasPrefix("HTTP 429") })
        #expect((overload.count, overload.duringFaults, overload.outsideFaults) == (2, ["F1"], 1))
        let other = try #require(built.failures.first { $0.cause.hasPrefix("HTTP 500") })
        #expect((other.duringFaults, other.outsideFaults) == ([], 1))
    }

    /// An arrival not started is set against the faults the operations it waited behind
    /// overlapped: after F1 was whole again, views started during it still fill the limit.
    @Test func anArrivalNotStartedIsDuringTheFaultsItWaitedBehind() throws {
        func notStarted(at ms: UInt64) -> SoakOperation {
            SoakOperation(
                kind: .view, startNs: ms * 1_000_000, endNs: ms * 1_000_000, outcome: .failed,
                error: HistoryRecorder.saturatedPrefix + " (64 view in flight)", via: "none")
        }
        let ops = [
            view(at: 12_000, lastingMs: 4000),  // during F1 (10–14 s), ends at 16 s
            notStarted(at: 15_000),  // after F1 was whole again, waiting behind that view
            view(at: 45_000, lastingMs: 6000),  // no fault
            notStarted(at: 50_000),
        ]
        let group = try #require(
            report(operations: ops, faults: [diskFull(from: 10, to: 13, wholeAgain: 14)]).failures.first)
        #expect((group.outcome, group.count) == ("notStarted", 2))
        #expect(group.duringFaults == ["F1"])
        #expect(group.outsideFaults == 1)
    }

    @Test func aRunWithoutFailuresSaysSo() {
        let built = report(operations: (0..<3).map { view(at: UInt64($0) * 1000, lastingMs: 5) })
        #expect(built.failures.isEmpty)
        #expect(built.markdown().contains("## Failures\n\nEvery operation sent succeeded, and every arrival was sent."))
    }

    /// CPU % of one core from the cpuSeconds deltas between samples.
    @Test func cpuPercentFromDeltas() throws {
        let samples = [
            ProcessSample(name: "broker", pid: 10, tNs: 0, rssBytes: 10 << 20, cpuSeconds: 1),
            ProcessSample(name: "broker", pid: 10, tNs: 1_000_000_000, rssBytes: 10 << 20, cpuSeconds: 1.5),
            ProcessSample(name: "broker", pid: 10, tNs: 3_000_000_000, rssBytes: 10 << 20, cpuSeconds: 3.5),
        ]
        let broker = try #require(report(samples: samples).processes.first)
        #expect(broker.points.map(\.cpuPercent) == [nil, 50, 100])
        #expect(broker.meanCpuPercent == 75)
        #expect(broker.restarts == 0)
    }

    /// A restart (a new pid under the same name) starts its CPU time again from 0:
    /// no negative CPU, no difference across pids; RSS growth compares the new
    /// process with itself, not with its predecessor.
    @Test func restartIsANewIncarnation() throws {
        var samples: [ProcessSample] = []
        for second in 0..<10 {  // pid 10: 100 MiB, 1 s of CPU per second
            samples.append(
                ProcessSample(
                    name: "video-1", pid: 10, tNs: UInt64(second) * 1_000_000_000, rssBytes: 100 << 20,
                    cpuSeconds: Double(second)))
        }
        for second in 10...20 {  // pid 20: from 20 to 30 MiB, half a core
            samples.append(
                ProcessSample(
                    name: "video-1", pid: 20, tNs: UInt64(second) * 1_000_000_000,
                    rssBytes: UInt64(20 + second - 10) << 20, cpuSeconds: Double(second - 10) / 2))
        }
        let video = try #require(report(samples: samples).processes.first)
        #expect(video.pids == [10, 20])
        #expect(video.restarts == 1)
        #expect(video.points[10].cpuPercent == nil)
        #expect(video.points.compactMap(\.cpuPercent).allSatisfy { $0 == 100 || $0 == 50 })
        let growth = try #require(video.rssGrowth)
        // pid 20 was born at the run's middle, so (as the checker judges it) it is measured
        // over the last half of its own life, 15–20 s: its first seconds are warm-up.
        #expect(growth.pid == 20)
        #expect(growth.fromMiB == 25)
        #expect(growth.toMiB == 30)
        #expect(growth.growthPercent == 20)
        #expect(growth.partial)
    }

    /// A restart inside the last half: the incarnation that covered more of it is
    /// measured, and marked partial.
    @Test func restartInsideTheLastHalfMeasuresTheLongerIncarnation() throws {
        var samples: [ProcessSample] = []
        for second in 0...20 {
            let pid: Int32 = second <= 16 ? 10 : 20
            let mib = pid == 10 ? 50 + second : 5
            samples.append(
                ProcessSample(
                    name: "broker", pid: pid, tNs: UInt64(second) * 1_000_000_000, rssBytes: UInt64(mib) << 20,
                    cpuSeconds: 0))
        }
        let growth = try #require(report(samples: samples).processes.first?.rssGrowth)
        #expect(growth.pid == 10)
        #expect(growth.fromSeconds == 10)
        #expect(growth.toSeconds == 16)
        #expect(growth.growthMiB == 6)
        #expect(growth.partial)
    }

    /// The public helper a checker can use for `rss-bounded` gives the report's numbers.
    @Test func rssGrowthHelperAgreesWithTheReport() throws {
        let history = ReportFixtures.sampleHistory()
        let built = report(samples: history.samples)
        let growth = RssGrowth.lastHalf(samples: history.samples, runSeconds: built.runSeconds)
        #expect(growth.count == built.processes.count)
        for process in built.processes { #expect(growth[process.name] == process.rssGrowth, "\(process.name)") }
        #expect(growth["video-1"]?.pid == 301)
    }

    @Test func faultsKeepTheirRecoveryOrNever() throws {
        let faults = [
            SoakFault(
                kind: .pause, target: "broker", startNs: 30_000_000_000, endNs: 33_000_000_000,
                wholeAgainNs: 34_500_000_000, detail: "paused"),
            SoakFault(
                kind: .kill, target: "video-1", startNs: 10_000_000_000, endNs: 10_000_000_000,
                wholeAgainNs: 11_200_000_000, detail: "killed"),
            SoakFault(
                kind: .diskFull, target: "broker", startNs: 40_000_000_000, endNs: 45_000_000_000, wholeAgainNs: nil,
                detail: "ENOSPC"),
        ]
        let built = report(faults: faults)
        #expect(built.faults.map(\.target) == ["video-1", "broker", "broker"])
        #expect(built.faults.map(\.durationSeconds) == [0, 3, 5])
        #expect(built.faults[0].recoverySeconds.map { abs($0 - 1.2) < 1e-9 } == true)
        #expect(built.faults[1].recoverySeconds.map { abs($0 - 4.5) < 1e-9 } == true)
        #expect(built.faults[2].recoverySeconds == nil)
        #expect(!built.faults[2].recovered)
        #expect(built.runSeconds == 45)
    }

    @Test func aFailedInvariantFailsTheReport() {
        let failing = InvariantVerdict(
            name: "groups-drain", statement: "lag returns to 0", holds: false, checked: 3, detail: "video lag 12",
            offending: ["video"])
        #expect(report().passed)
        let built = report(checker: ReportFixtures.checker(failing: failing))
        #expect(!built.passed)
        #expect(built.failedInvariants.map(\.name) == ["groups-drain"])
    }

    /// An invariant the contract names but the checker left out is "not checked",
    /// and fails the run: a silent checker must not make a soak pass.
    @Test func aMissingVerdictIsNotChecked() throws {
        var checker = ReportFixtures.checker()
        checker.verdicts.removeAll { $0.name == "rss-bounded" }
        let built = report(checker: checker)
        #expect(!built.passed)
        let missing = try #require(built.invariants.first { $0.name == "rss-bounded" })
        #expect(!missing.holds)
        #expect(missing.detail.contains("not checked"))
        #expect(!report(checker: CheckerResult(verdicts: [], latenciesMs: [:])).passed)
    }

    /// Odd input never traps and never renders as nonsense: no operations or samples,
    /// a NaN from the checker, a fault whose end was recorded before its start.
    @Test func oddInputStillGivesAReport() throws {
        let backwards = SoakFault(
            kind: .pause, target: "broker", startNs: 5_000_000_000, endNs: 4_000_000_000, wholeAgainNs: 3_000_000_000,
            detail: "clock went backwards")
        let built = report(
            faults: [backwards],
            checker: CheckerResult(
                verdicts: ReportFixtures.passingVerdicts(), latenciesMs: ["view→visible": [.nan, 3, .infinity]]))
        #expect(built.passed)
        #expect(built.totals.overall.sent == 0)
        #expect(built.faults[0].durationSeconds == 0)
        #expect(built.faults[0].recoverySeconds == 0)
        let visible = try #require(built.latencies.first { $0.name == "view→visible" })
        #expect(visible.count == 1)
        #expect(visible.maxMs == 3)
        let html = built.html()
        #expect(html.contains("no data"))
        #expect(!html.lowercased().contains("nan"))
        #expect(built.markdown().contains("No process samples."))
    }

    @Test func reproduceCommandCarriesTheSeed() {
        let built = report()
        #expect(
            built.reproduce
                == "metro soak --rate 50 --duration 60s --chaos --seed 42 --profiles 1 --video 2 --recommendations 1")
        var secure = built.configuration
        secure.secure = true
        #expect(SoakReport.reproduceCommand(secure).contains("--chaos --secure --seed 42"))
        secure.attached = true
        #expect(!SoakReport.reproduceCommand(secure).contains("--secure"), "attached: the keys are the operator's")
        // Attached: the flags that named the system come back, keys and endpoints as given.
        secure.attachFlags = ["--registry", "tcp://127.0.0.1:7500", "--keys", "/srv/metro/keys"]
        #expect(
            SoakReport.reproduceCommand(secure).hasPrefix(
                "metro soak --attach --registry tcp://127.0.0.1:7500 --keys /srv/metro/keys --rate 50"),
            "\(SoakReport.reproduceCommand(secure))")
    }
}
