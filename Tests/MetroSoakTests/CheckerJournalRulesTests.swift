import Foundation
import Testing

@testable import MetroSoak

/// `acked-events-in-journal`, `seqs-increase-ids-unique` and the live watcher's log.
@Suite struct CheckerJournalRulesTests {
    typealias F = Fixture
    static let start = Date(timeIntervalSince1970: 1_800_000_000)
    static let startNs: UInt64 = 1_800_000_000 * 1_000_000_000

    @Test func ackedEventsAtTheirSeqsHold() {
        let v = JournalInvariants.checkAcked(
            operations: [F.view("w-1", seq: 3), F.view("w-2", seq: 4), F.view("w-3", .timedOut)],
            readBack: JournalReadBack(entries: [F.watched(3, "w-1"), F.watched(4, "w-2")], caughtUpSeq: 4))
        #expect(v.holds, "\(v.detail)")
        #expect(v.checked == 2)
    }

    @Test func aMissingOrMovedAckedEventIsNamed() {
        let v = JournalInvariants.checkAcked(
            operations: [F.view("w-1", seq: 3), F.view("w-2", seq: 4), F.view("w-3", seq: 5)],
            readBack: JournalReadBack(entries: [F.watched(3, "w-1"), F.watched(4, "other")], caughtUpSeq: 4))
        #expect(v.offending == ["w-2", "w-3"])
        #expect(v.detail.contains("the journal has other there"))
    }

    @Test func denseIncreasingSeqsWithUniqueIdsHold() {
        let entries = [F.event(10, "a"), F.event(11, "b"), F.event(12, ""), F.event(13, "c")]
        let v = JournalInvariants.checkSeqs(
            readBack: JournalReadBack(entries: entries), faults: [], startedAt: Self.start, endNs: 0)
        #expect(v.holds, "\(v.detail)")
        #expect(v.checked == 4)
    }

    @Test func aSeqNotAboveTheOneBeforeOrAnIdTwiceIsNamed() {
        let entries = [F.event(10, "a"), F.event(11, "b"), F.event(11, "c"), F.event(12, "a")]
        let v = JournalInvariants.checkSeqs(
            readBack: JournalReadBack(entries: entries), faults: [], startedAt: Self.start, endNs: 0)
        #expect(v.offending == ["seq 11", "a"])
    }

    /// A dead letter carries the original event's id (protocol.md §4.10): not a duplicate.
    @Test func deadLettersRepeatIdsOnPurpose() {
        let entries = [F.event(10, "a"), F.event(11, "a", topic: "$metro.dead.profiles")]
        let v = JournalInvariants.checkSeqs(
            readBack: JournalReadBack(entries: entries), faults: [], startedAt: Self.start, endNs: 0)
        #expect(v.holds, "\(v.detail)")
    }

    @Test func aJumpWithoutABrokerFaultIsNamed() {
        let entries = [F.event(10, "a"), F.event(15, "b", timeNs: Self.startNs + 5_000_000_000)]
        let workerKill = SoakFault(
            kind: .kill, target: "video-1", startNs: 4_000_000_000, endNs: 4_000_000_000,
            wholeAgainNs: 6_000_000_000, detail: "")
        let v = JournalInvariants.checkSeqs(
            readBack: JournalReadBack(entries: entries), faults: [workerKill], startedAt: Self.start, endNs: 0)
        #expect(v.offending == ["seq 11…14"])
    }

    /// A broker crash may jump by up to 2^20 (protocol.md §4.1): allowed within
    /// the fault's window, not outside it, and not by more.
    @Test func aCrashJumpIsAllowedOnlyInItsWindowAndSize() {
        let kill = SoakFault(
            kind: .kill, target: "broker", startNs: 4_000_000_000, endNs: 4_000_000_000,
            wholeAgainNs: 6_000_000_000, detail: "")
        func check(_ jumpTo: UInt64, atSecond s: UInt64) -> InvariantVerdict {
            let entries = [F.event(10, "a"), F.event(jumpTo, "b", timeNs: Self.startNs + s * 1_000_000_000)]
            return JournalInvariants.checkSeqs(
                readBack: JournalReadBack(entries: entries), faults: [kill], startedAt: Self.start, endNs: 0)
        }
        #expect(check(11 + (1 << 20), atSecond: 5).holds)
        #expect(!check(12 + (1 << 20), atSecond: 5).holds)
        #expect(!check(20, atSecond: 9).holds)
    }

    @Test func aReadBackThatStoppedShortFails() {
        let v = JournalInvariants.checkSeqs(
            readBack: JournalReadBack(entries: [F.event(10, "a")], failure: "timed out"), faults: [],
            startedAt: Self.start, endNs: 0)
        #expect(!v.holds)
        #expect(v.detail.contains("timed out"))
    }

    @Test func theLiveLogCountsDuplicatesAndDisorderAndTimesOutcomes() {
        var log = LiveJournalLog()
        log.record(F.event(1, "a"), seenAtNs: 5)
        log.record(F.processed(2, "p", video: "v-1"), seenAtNs: 7)
        log.record(F.processed(3, "p2", video: "v-1"), seenAtNs: 9)
        #expect(log.violationCount == 0)
        log.record(F.event(3, "b"), seenAtNs: 10)
        log.record(F.event(4, "a"), seenAtNs: 11)
        log.record(F.event(5, "a", topic: "$metro.dead.g"), seenAtNs: 12)
        #expect(log.outOfOrderSeqs == [3])
        #expect(log.duplicateIds == ["a"])
        #expect(log.violationCount == 2)
        #expect(log.outcomeSeenAtNs == ["v-1": 7])
    }

    @Test func uploadLatencyRunsFromTheUploadsEndToItsOutcome() {
        var history = SoakHistory(startedAt: Self.start, startSeq: 0)
        history.operations = [
            SoakOperation(kind: .upload, startNs: 0, endNs: 1_000_000_000, outcome: .ok, videoId: "v-1", via: "rpc"),
            SoakOperation(kind: .upload, startNs: 0, endNs: 1_000_000_000, outcome: .ok, videoId: "v-2", via: "rpc"),
        ]
        var live = LiveJournalLog()
        live.record(F.processed(2, "p", video: "v-1"), seenAtNs: Self.startNs + 1_250_000_000)
        let journal = [
            F.processed(2, "p", video: "v-1"),
            JournalEntry(
                seq: 3, eventId: "q", topic: "video.failed", timeNs: Self.startNs + 3_000_000_000, videoId: "v-2"),
        ]
        #expect(UploadLatency.millis(history: history, live: live, journal: journal) == [250, 2000])
    }
}
