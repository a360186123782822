import Testing

@testable import MetroBroker

@Suite struct LogThrottleTests {
    @Test func letsOneLineThroughPerPeriodAndCountsTheRest() {
        var throttle = LogThrottle(periodNs: 1_000)
        #expect(throttle.allow(now: 0) == 0)
        #expect(throttle.allow(now: 10) == nil)
        #expect(throttle.allow(now: 999) == nil)
        #expect(throttle.allow(now: 1_000) == 2)
        #expect(throttle.allow(now: 2_500) == 0)
    }

    @Test func theFirstLineGoesThroughWhateverTheClockSays() {
        var throttle = LogThrottle(periodNs: 1_000_000_000)
        #expect(throttle.allow(now: 5) == 0)
    }
}
