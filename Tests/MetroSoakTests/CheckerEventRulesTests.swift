import Foundation
import Testing

@testable import MetroSoak

/// `uploads-processed-once`, `views-in-history-once` and `views-in-model-once`
/// over hand-made histories, journals and service answers.
@Suite struct CheckerEventRulesTests {
    typealias F = Fixture

    @Test func anUploadWithOneOutcomeHolds() {
        let v = UploadInvariant.check(
            operations: [F.upload("v-1"), F.upload("v-2")],
            journal: [F.processed(5, "p-1", video: "v-1"), F.processed(6, "p-2", video: "v-2")])
        #expect(v.holds, "\(v.detail)")
        #expect(v.checked == 2)
        #expect(v.detail.contains("no outcome event id appeared twice"))
    }

    @Test func anUploadWithoutOutcomeOrWithTwoIsNamed() {
        let v = UploadInvariant.check(
            operations: [F.upload("v-1"), F.upload("v-2"), F.upload("v-3")],
            journal: [
                F.processed(5, "p-1", video: "v-1"), F.processed(6, "p-2a", video: "v-2"),
                JournalEntry(seq: 7, eventId: "p-2b", topic: "video.failed", videoId: "v-2"),
            ])
        #expect(!v.holds)
        #expect(Set(v.offending) == ["v-2", "v-3"])
        #expect(v.offendingCount == 2)
    }

    @Test func anIndeterminateUploadMayHaveNoOutcomeButNotTwo() {
        let none = UploadInvariant.check(operations: [F.upload("v-1", .timedOut)], journal: [])
        #expect(none.holds)
        let two = UploadInvariant.check(
            operations: [F.upload("v-1", .timedOut)],
            journal: [F.processed(5, "p-1", video: "v-1"), F.processed(6, "p-1b", video: "v-1")])
        #expect(two.offending == ["v-1"])
    }

    /// One outcome journaled twice under one id counts once here; the detail says so.
    @Test func aDuplicateOutcomeIdIsSaidButCountedOnce() {
        let v = UploadInvariant.check(
            operations: [F.upload("v-1")],
            journal: [F.processed(5, "p-1", video: "v-1"), F.processed(9, "p-1", video: "v-1")])
        #expect(v.holds)
        #expect(v.detail.contains("journaled twice"))
    }

    @Test func everyAckedViewOnceInHistoryHolds() {
        let v = ViewInvariants.checkHistory(
            operations: [F.view("w-1", seq: 3), F.view("w-2", user: "u-2", seq: 4)],
            journal: [F.watched(3, "w-1"), F.watched(4, "w-2", user: "u-2")],
            services: F.history(["u-1": ["w-1": 1, "w-old": 1], "u-2": ["w-2": 1]]))
        #expect(v.holds, "\(v.detail)")
        #expect(v.checked == 2)
    }

    @Test func aViewMissingOrRepeatedInHistoryIsNamed() {
        let v = ViewInvariants.checkHistory(
            operations: [F.view("w-1", seq: 3), F.view("w-2", seq: 4)], journal: [],
            services: F.history(["u-1": ["w-2": 2]]))
        #expect(!v.holds)
        #expect(Set(v.offending) == ["w-1", "w-2"])
        #expect(v.detail.contains("1 missing, 1 more than once"))
    }

    /// A view that timed out but reached the journal happened: it must be there once.
    /// One that did not reach it is not expected.
    @Test func anIndeterminateViewCountsOnlyIfJournaled() {
        let ops = [F.view("w-1", .timedOut), F.view("w-2", .failed)]
        let v = ViewInvariants.checkHistory(
            operations: ops, journal: [F.watched(3, "w-1")], services: F.history(["u-1": [:]]))
        #expect(v.offending == ["w-1"])
        #expect(v.checked == 1)
    }

    @Test func anUnreadableHistoryFailsItsViews() {
        let v = ViewInvariants.checkHistory(
            operations: [F.view("w-1", seq: 3)], journal: [],
            services: ServiceSnapshot(histories: ["u-1": .failed("timed out")]))
        #expect(v.offending == ["w-1"])
        #expect(v.detail.contains("timed out"))
    }

    @Test func modelCountsMatchingTheViewsHold() {
        let ops = [F.view("w-1", seq: 3), F.view("w-2", seq: 4), F.view("w-3", video: "v-2", .timedOut)]
        let journal = [F.watched(3, "w-1"), F.watched(4, "w-2"), F.watched(5, "w-3", video: "v-2")]
        let v = ViewInvariants.checkModel(
            operations: ops, journal: journal, services: F.seen(["u-1": ["v-1": 2, "v-2": 1]]))
        #expect(v.holds, "\(v.detail)")
        #expect(v.checked == 2)
    }

    @Test func aModelCountOffByOneNamesThePair() {
        let ops = [F.view("w-1", seq: 3), F.view("w-2", seq: 4)]
        let journal = [F.watched(3, "w-1"), F.watched(4, "w-2")]
        let low = ViewInvariants.checkModel(operations: ops, journal: journal, services: F.seen(["u-1": ["v-1": 1]]))
        #expect(low.offending == ["u-1/v-1"])
        #expect(low.detail.contains("1, expected 2"))
        let high = ViewInvariants.checkModel(operations: ops, journal: journal, services: F.seen(["u-1": ["v-1": 3]]))
        #expect(high.offending == ["u-1/v-1"])
    }

    /// Views of the pair from before the run (or from another publisher) count too.
    @Test func earlierViewsOfThePairAreExpected() {
        let v = ViewInvariants.checkModel(
            operations: [F.view("w-1", seq: 9)], journal: [F.watched(9, "w-1"), F.watched(10, "other")],
            earlierViews: [F.watched(2, "w-0")], services: F.seen(["u-1": ["v-1": 3]]))
        #expect(v.holds, "\(v.detail)")
    }
}
