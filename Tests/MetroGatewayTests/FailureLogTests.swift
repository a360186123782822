import Testing

@testable import MetroGateway

/// The 5xx warning's limiter: once a second per route and status, counting the rest.
struct FailureLogTests {
    @Test func onceASecondPerRouteAndStatusWithTheCountHeldBack() {
        let log = FailureLog()
        let t0 = ContinuousClock.now
        #expect(log.allow(route: "/v1/users/{id}", status: 503, now: t0) == 0)
        #expect(log.allow(route: "/v1/users/{id}", status: 503, now: t0 + .milliseconds(300)) == nil)
        #expect(log.allow(route: "/v1/users/{id}", status: 503, now: t0 + .milliseconds(600)) == nil)
        #expect(log.allow(route: "/v1/users/{id}", status: 504, now: t0 + .milliseconds(600)) == 0, "another status")
        #expect(log.allow(route: "/v1/videos/{id}", status: 503, now: t0 + .milliseconds(600)) == 0, "another route")
        #expect(log.allow(route: "/v1/users/{id}", status: 503, now: t0 + .milliseconds(1100)) == 2)
    }
}
