import Testing

@testable import MetroKit

/// The rpc server's bad-message log line: at most one per period, with the count held back.
@Suite struct LogLimiterTests {
    @Test func onePerPeriodWithTheHeldBackCount() {
        var limiter = LogLimiter(period: .seconds(1))
        let t0 = ContinuousClock.now
        #expect(limiter.allow(now: t0) == 0)
        #expect(limiter.allow(now: t0 + .milliseconds(10)) == nil)
        #expect(limiter.allow(now: t0 + .milliseconds(999)) == nil)
        #expect(limiter.allow(now: t0 + .seconds(1)) == 2)
        #expect(limiter.allow(now: t0 + .milliseconds(1500)) == nil)
        #expect(limiter.allow(now: t0 + .seconds(3)) == 1)
    }
}
