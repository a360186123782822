import Foundation
import Testing

@testable import MetroSoak

/// `requests-answer-in-deadline`, `rss-bounded`, `groups-drain` and the view sampling policy.
@Suite struct CheckerRunRulesTests {
    static func request(tookMs: UInt64, deadlineMs: UInt32?, _ outcome: SoakOperation.Outcome, error: String? = nil)
        -> SoakOperation
    {
        SoakOperation(
            kind: .recommend, startNs: 1_000_000_000, endNs: 1_000_000_000 + tookMs * 1_000_000, outcome: outcome,
            error: error, userId: "u-1", deadlineMs: deadlineMs, via: "http")
    }

    @Test func requestsWithinDeadlinePlusGraceHold() {
        let v = DeadlineInvariant.check(operations: [
            Self.request(tookMs: 20, deadlineMs: 1000, .ok),
            Self.request(tookMs: 1000, deadlineMs: 1000, .timedOut),
            Self.request(tookMs: 2100, deadlineMs: 1000, .failed, error: "504 upstream timed out"),
        ])
        #expect(v.holds, "\(v.detail)")
        #expect(v.checked == 3)
        #expect(v.detail.contains("1 ended by their deadline"))
    }

    @Test func aRequestPastItsGraceOrWithoutAnErrorIsNamed() {
        // Grace for 1000 ms: 1000 + 200 ms.
        let v = DeadlineInvariant.check(operations: [
            Self.request(tookMs: 2201, deadlineMs: 1000, .ok),
            Self.request(tookMs: 5, deadlineMs: 1000, .failed),
            Self.request(tookMs: 10, deadlineMs: 1000, .ok),
        ])
        #expect(v.offendingCount == 2)
        #expect(v.detail.contains("took 2201 ms with a deadline of 1000 ms"))
        #expect(v.detail.contains("failed without an error text"))
    }

    /// An arrival the soak never sent has no answer to judge: counted apart, not checked.
    @Test func arrivalsNeverSentAreNotJudged() {
        let v = DeadlineInvariant.check(operations: [
            Self.request(tookMs: 20, deadlineMs: 1000, .ok),
            SoakOperation(
                kind: .recommend, startNs: 5, endNs: 5, outcome: .failed,
                error: HistoryRecorder.saturatedPrefix + " (64 in flight)", via: "none"),
        ])
        #expect(v.holds, "\(v.detail)")
        #expect(v.checked == 1)
        #expect(v.detail.contains("1 not started (the in-flight limit was full), not judged"))
        #expect(!v.detail.contains("no deadline to judge"))
    }

    static func sample(_ name: String, pid: Int32, second: UInt64, mib: UInt64) -> ProcessSample {
        ProcessSample(name: name, pid: pid, tNs: second * 1_000_000_000, rssBytes: mib << 20, cpuSeconds: 0)
    }

    @Test func flatRSSHoldsAndGrowthPastTheThresholdIsNamed() {
        var samples: [ProcessSample] = []
        for s in UInt64(0)...10 {
            samples.append(Self.sample("broker", pid: 1, second: s, mib: 40 + s))  // +5 MiB over the last half
            samples.append(Self.sample("video-1", pid: 2, second: s, mib: 100 + s * 20))  // +100 MiB (> 25%)
        }
        let v = RSSInvariant.check(samples: samples)
        #expect(v.offending == ["video-1 (pid 2)"])
        #expect(v.checked == 2)
    }

    /// A restart is a new series: its warm-up is judged over its own last half.
    @Test func aRestartedProcessIsANewSeries() {
        var samples: [ProcessSample] = []
        for s in UInt64(0)...5 { samples.append(Self.sample("video-1", pid: 2, second: s, mib: 300)) }
        // pid 3 starts at 6 s (after the middle, 10 s run) at 10 MiB and warms up to 80 MiB by 8 s, then stays.
        for s in UInt64(6)...10 {
            samples.append(Self.sample("video-1", pid: 3, second: s, mib: s <= 8 ? 10 + (s - 6) * 35 : 80))
        }
        let v = RSSInvariant.check(samples: samples)
        #expect(v.holds, "\(v.detail)")
    }

    @Test func noSamplesFail() {
        #expect(!RSSInvariant.check(samples: []).holds)
    }

    @Test func groupsThatDrainedHoldAndOnesThatDidNotAreNamed() {
        let drained = GroupDrainObservation(
            groups: [
                .init(name: "profiles", members: 2, lag: 0, pending: 0),
                .init(name: "old", members: 0, lag: 9, pending: 3),
            ],
            drainedAfterMs: 120, timeoutMs: 30_000)
        #expect(DrainInvariant.check(drained).holds)
        #expect(DrainInvariant.check(drained).detail.contains("not judged (no members): old"))
        let stuck = GroupDrainObservation(
            groups: [
                .init(name: "profiles", members: 2, lag: 0, pending: 4),
                .init(name: "video-processing", members: 1, lag: 0, pending: 0),
            ],
            drainedAfterMs: nil, timeoutMs: 30_000)
        let v = DrainInvariant.check(stuck)
        #expect(v.offending == ["profiles"])
        #expect(v.detail.contains("not every group drained within 30000 ms"))
    }

    /// Just after a broker restart the system's groups are back with no member: not
    /// drained, whatever their lag, until a worker joins again.
    @Test func theSystemsGroupsAreAwaitedWithoutMembers() {
        let restarted = GroupDrainObservation(
            groups: [
                .init(name: "profiles", members: 0, lag: 0, pending: 0),
                .init(name: "old", members: 0, lag: 9, pending: 3),
            ],
            drainedAfterMs: nil, timeoutMs: 30_000, awaited: ["profiles", "recommendations"])
        #expect(!restarted.allDrained)
        let v = DrainInvariant.check(restarted)
        #expect(!v.holds && v.offending == ["profiles"])
        #expect(v.detail.contains("not judged (no members): old"))
        var rejoined = restarted
        rejoined.groups[0].members = 1
        #expect(rejoined.allDrained)
    }

    @Test func samplingTakesOneInTwentyAndAFewPerSecond() {
        var policy = ViewSamplingPolicy(every: 20, maxPerSecond: 2, maxInFlight: 8)
        var taken = 0
        for _ in 0..<200 where policy.shouldSample(nowNs: 0, inFlight: 0) { taken += 1 }
        #expect(taken == 2)
        var later = 0
        for _ in 0..<200 where policy.shouldSample(nowNs: 1_000_000_000, inFlight: 0) { later += 1 }
        #expect(later == 2)
        var busy = ViewSamplingPolicy(every: 1, maxPerSecond: 100, maxInFlight: 1)
        let taken1 = busy.shouldSample(nowNs: 0, inFlight: 1)
        #expect(!taken1, "none while the followed views are at the limit")
    }
}
