import Testing

@testable import Recommendations

@Suite struct FeedbackTests {
    @Test func shareOfTheVideoWatchedInMicroUnits() {
        #expect(Feedback.strength(secondsSum: 30, viewsWithoutSeconds: 0, durationMs: 120_000) == 250_000)
        #expect(Feedback.strength(secondsSum: 0, viewsWithoutSeconds: 0, durationMs: 120_000) == 0)
    }

    @Test func cappedAtOneFullView() {
        #expect(Feedback.strength(secondsSum: 500, viewsWithoutSeconds: 0, durationMs: 120_000) == Feedback.full)
        #expect(Feedback.strength(secondsSum: .max, viewsWithoutSeconds: 0, durationMs: 1) == Feedback.full)
        #expect(Feedback.strength(secondsSum: 60, viewsWithoutSeconds: 1, durationMs: 120_000) == Feedback.full)
    }

    @Test func aViewWithoutSecondsCountsAsTheUnknownShare() {
        #expect(Feedback.strength(secondsSum: 0, viewsWithoutSeconds: 1, durationMs: 120_000) == 500_000)
        #expect(Feedback.strength(secondsSum: 12, viewsWithoutSeconds: 1, durationMs: 120_000) == 600_000)
        #expect(Feedback.strength(secondsSum: 0, viewsWithoutSeconds: .max, durationMs: 10) == Feedback.full)
    }

    @Test func unknownDurationIsNoStrengthAndAStillIsFull() {
        #expect(Feedback.strength(secondsSum: 30, viewsWithoutSeconds: 0, durationMs: nil) == 0)
        #expect(Feedback.strength(secondsSum: 1, viewsWithoutSeconds: 0, durationMs: 0) == Feedback.full)
        #expect(Feedback.strength(secondsSum: 0, viewsWithoutSeconds: 0, durationMs: 0) == 0)
    }

    @Test func durationFromSeconds() {
        #expect(Feedback.durationMs(seconds: 2.0) == 2000)
        #expect(Feedback.durationMs(seconds: 2.0405) == 2041)
        #expect(Feedback.durationMs(seconds: -1) == 0)
        #expect(Feedback.durationMs(seconds: .nan) == 0)
    }

    @Test func popularityDecaysWithAgeRelativeToAFixedEpoch() {
        let p = ModelParameters.standard
        #expect(Feedback.popularityTerm(watchedAtMs: p.popularityEpochMs) == 1)
        let monthLater = Feedback.popularityTerm(watchedAtMs: p.popularityEpochMs + Int64(p.popularityTauMs))
        #expect(abs(monthLater - 2.718281828459045) < 1e-12)
        // Views from 1998 (MovieLens) stay representable.
        #expect(Feedback.popularityTerm(watchedAtMs: 900_000_000_000) > 0)
    }

    @Test func theLargerVersionWinsWhateverTheOrder() {
        #expect(VersionRule.wins((2, "a"), over: (1, "z")))
        #expect(!VersionRule.wins((1, "z"), over: (2, "a")))
        #expect(VersionRule.wins((2, "b"), over: (2, "a")))
        #expect(!VersionRule.wins((2, "a"), over: (2, "b")))
        #expect(VersionRule.wins((0, ""), over: nil))
    }
}
