import Foundation

@testable import MetroSoak

/// Hand-made soak histories for the report's tests, and the sample report that
/// scripts/soak-report-check.sh opens in Chromium. Deterministic: a seeded PRNG.
enum ReportFixtures {
    static let startedAt = Date(timeIntervalSince1970: 1_800_000_000)
    static let finishedAt = startedAt.addingTimeInterval(62)

    static func configuration(seed: UInt64 = 42) -> SoakConfiguration {
        SoakConfiguration(
            seed: seed, targetRate: 50, durationSeconds: 60, chaos: true, attached: false, realMedia: false,
            throughGateway: true,
            mix: ["signUp": 0.05, "profileEdit": 0.05, "upload": 0.1, "view": 0.6, "recommend": 0.2],
            instances: ["broker": 1, "registry": 1, "gateway": 1, "profiles": 1, "video": 2, "recommendations": 1],
            dataFolder: "/tmp/metro-soak-fixture", host: "fixture-host", cores: 2)
    }

    /// A verdict that holds for every invariant the contract names.
    static func passingVerdicts() -> [InvariantVerdict] {
        SoakReport.expectedInvariants.map {
            InvariantVerdict(name: $0, statement: "statement of \($0)", holds: true, checked: 100, detail: "all fine")
        }
    }

    static func checker(failing: InvariantVerdict? = nil) -> CheckerResult {
        var verdicts = passingVerdicts()
        if let failing, let index = verdicts.firstIndex(where: { $0.name == failing.name }) {
            verdicts[index] = failing
        }
        var rng = SoakRandom(seed: 7)
        return CheckerResult(
            verdicts: verdicts,
            latenciesMs: [
                "upload→processed": (0..<300).map { _ in 150 + rng.unit() * 400 },
                "view→visible": (0..<500).map { _ in 20 + rng.unit() * 80 },
            ])
    }

    /// A 60-second run at 50 ops/s: the default mix, three faults (a kill of video-1 with
    /// its restart, a broker pause, a disk-full that never recovered before the end),
    /// and a sample per second of seven processes.
    static func sampleHistory() -> SoakHistory {
        var rng = SoakRandom(seed: 42)
        var history = SoakHistory(startedAt: startedAt, startSeq: 1000)
        let kinds: [(SoakOperation.Kind, Double, String)] = [
            (.signUp, 0.05, "http"), (.profileEdit, 0.05, "http"), (.upload, 0.1, "rpc"), (.view, 0.6, "broker"),
            (.recommend, 0.2, "http"),
        ]
        for index in 0..<3000 {
            let startNs = UInt64(index) * 20_000_000
            var pick = rng.unit()
            var kind = kinds[kinds.count - 1]
            for candidate in kinds {
                if pick < candidate.1 {
                    kind = candidate
                    break
                }
                pick -= candidate.1
            }
            let inPause = startNs >= 30_000_000_000 && startNs < 33_000_000_000
            let baseMs = kind.0 == .view ? 1.5 : 6
            let ms = inPause ? 3000 * rng.unit() + 100 : baseMs * (1 + 3 * rng.unit() * rng.unit())
            let outcome: SoakOperation.Outcome =
                inPause && rng.unit() < 0.2 ? .timedOut : (index % 97 == 0 ? .failed : .ok)
            history.operations.append(
                SoakOperation(
                    kind: kind.0, startNs: startNs, endNs: startNs + UInt64(ms * 1e6), outcome: outcome,
                    error: outcome == .failed ? "E_UNAVAILABLE: no instance" : nil, userId: "u-\(index % 40)",
                    videoId: "v-\(index % 25)", eventId: "ev-\(index)",
                    seq: kind.0 == .view ? 1000 + UInt64(index) : nil,
                    deadlineMs: kind.0 == .view ? nil : 2000, via: kind.2))
        }
        history.faults = [
            SoakFault(
                kind: .kill, target: "video-1", startNs: 15_000_000_000, endNs: 15_000_000_000,
                wholeAgainNs: 16_800_000_000, detail: "pid 201 killed; restarted as pid 301"),
            SoakFault(
                kind: .pause, target: "broker", startNs: 30_000_000_000, endNs: 33_000_000_000,
                wholeAgainNs: 34_100_000_000, detail: "SIGSTOP pid 100, SIGCONT after 3.0 s"),
            SoakFault(
                kind: .diskFull, target: "broker", startNs: 55_000_000_000, endNs: 59_000_000_000, wholeAgainNs: nil,
                detail: "journal writes fail with ENOSPC"),
        ]
        let processes: [(String, Int32, Double)] = [
            ("broker", 100, 40), ("registry", 110, 12), ("gateway", 120, 30), ("profiles-1", 130, 25),
            ("video-1", 201, 28), ("video-2", 202, 28), ("recommendations-1", 140, 26),
        ]
        for (name, pid, baseMiB) in processes {
            var cpu = 0.0
            for second in 0...60 {
                let restarted = name == "video-1" && second >= 16
                if name == "video-1" && second == 15 { continue }  // dead between the kill and the restart
                if restarted && second == 16 { cpu = 0 }
                cpu += (name == "broker" ? 0.35 : 0.08) * (0.5 + rng.unit())
                let grow = name == "gateway" ? Double(second) * 0.3 : Double(second) * 0.02
                let mib = (restarted ? baseMiB * 0.6 + Double(second - 16) * 0.05 : baseMiB + grow) + rng.unit()
                history.samples.append(
                    ProcessSample(
                        name: name, pid: restarted ? 301 : pid, tNs: UInt64(second) * 1_000_000_000,
                        rssBytes: UInt64(mib * 1_048_576), cpuSeconds: cpu))
            }
        }
        return history
    }

    /// The sample report: every invariant holds but one, whose offending ids include
    /// markup that must come out escaped.
    static func sampleReport(failing: Bool = true) -> SoakReport {
        let verdict = InvariantVerdict(
            name: "acked-events-in-journal",
            statement: "Every acknowledged event is in the journal (read back by replay).",
            holds: false, checked: 1797, detail: "3 acknowledged events missing from the journal",
            offending: ["ev-17", "ev-<script>alert(1)</script>", "ev-2048"], offendingCount: 3)
        return SoakReport.build(
            configuration: configuration(), history: sampleHistory(),
            checker: checker(failing: failing ? verdict : nil),
            finishedAt: finishedAt)
    }
}
