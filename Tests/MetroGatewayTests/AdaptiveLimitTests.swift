import MetroGateway
import Synchronization
import Testing

/// The adaptive limit as a pure value: every transition, with time passed in.
@Suite struct AdaptiveLimitTests {
    static func limit(initial: Int = 10, min: Int = 1, max: Int = 100) -> AdaptiveLimit {
        var c = AdaptiveLimit.Configuration()
        c.initialLimit = initial
        c.minLimit = min
        c.maxLimit = max
        return AdaptiveLimit(c)
    }

    /// Fills the limit, then answers each request after `rtt`, one at a time, `n` times
    /// (the limit stays busy: a new request is taken before each release).
    static func answerBusy(_ l: inout AdaptiveLimit, rtt: Duration, n: Int, now: inout Duration) {
        while l.acquire() {}
        for _ in 0..<n {
            now += rtt
            l.release(.answered(rtt: rtt), now: now)
            while l.acquire() {}
        }
    }

    @Test func refusesOverTheLimitAndFreesOnRelease() {
        var l = Self.limit(initial: 3)
        let taken = (0..<4).map { _ in l.acquire() }
        #expect(taken == [true, true, true, false])
        #expect(l.inFlight == 3)
        l.release(.ignored, now: .seconds(1))
        #expect(l.inFlight == 2 && l.limit == 3)
        let again = (0..<2).map { _ in l.acquire() }
        #expect(again == [true, false])
    }

    @Test func growsByOneWhileBusyAndLatencyStaysAtTheBaseline() {
        var l = Self.limit(initial: 10, max: 15)
        var now = Duration.zero
        Self.answerBusy(&l, rtt: .milliseconds(2), n: 3, now: &now)
        #expect(l.limit == 13)
        #expect(l.baseline == .milliseconds(2))
        Self.answerBusy(&l, rtt: .milliseconds(2), n: 10, now: &now)
        #expect(l.limit == 15, "capped at maxLimit")
    }

    @Test func doesNotGrowWhenIdle() {
        var l = Self.limit(initial: 10)
        for i in 1...50 {
            _ = l.acquire()
            l.release(.answered(rtt: .milliseconds(1)), now: .milliseconds(i))
        }
        #expect(l.limit == 10, "one request in flight of ten says nothing about room for more")
    }

    @Test func shrinksWhileLatencyShowsAQueue() {
        var l = Self.limit(initial: 20)
        var now = Duration.zero
        Self.answerBusy(&l, rtt: .milliseconds(2), n: 1, now: &now)
        #expect(l.limit == 21)
        // rtt 3× the baseline: queue = 21 × (1 − 1/3) = 14 > beta (6): one less per sample.
        Self.answerBusy(&l, rtt: .milliseconds(6), n: 5, now: &now)
        #expect(l.limit == 16)
        #expect(l.baseline == .milliseconds(2))
        // Between alpha and beta nothing changes: 16 × (1 − 2/2.5) = 3.2.
        Self.answerBusy(&l, rtt: .microseconds(2500), n: 5, now: &now)
        #expect(l.limit == 16)
    }

    @Test func dropsCutTheLimitMultiplicativelyDownToTheFloor() {
        var l = Self.limit(initial: 20, min: 2)
        while l.acquire() {}
        l.release(.dropped, now: .seconds(1))
        #expect(l.limit == 18)
        l.release(.dropped, now: .seconds(1))
        #expect(l.limit == 16)
        for _ in 0..<18 { l.release(.dropped, now: .seconds(2)) }
        #expect(l.limit == 2 && l.inFlight == 0)
    }

    @Test func theBaselineIsRenewedAfterItsWindow() {
        var c = AdaptiveLimit.Configuration()
        c.baselineWindow = .seconds(10)
        var l = AdaptiveLimit(c)
        _ = l.acquire()
        l.release(.answered(rtt: .milliseconds(1)), now: .seconds(1))
        _ = l.acquire()
        l.release(.answered(rtt: .milliseconds(5)), now: .seconds(5))
        #expect(l.baseline == .milliseconds(1))
        _ = l.acquire()
        l.release(.answered(rtt: .milliseconds(5)), now: .seconds(12))
        #expect(l.baseline == .milliseconds(5), "the service's latency without a queue is now 5 ms")
    }

    /// The overload story in miniature: a service that stops answering (SIGSTOP)
    /// holds the limit's permits until their deadlines drop them; the limit falls
    /// to its floor, so at most that many requests wait on it while the rest are
    /// shed; once it answers again the limit climbs back.
    @Test func aStalledServiceIsHeldToTheFloorAndRecovers() {
        var l = Self.limit(initial: 20, min: 1, max: 100)
        var now = Duration.zero
        Self.answerBusy(&l, rtt: .milliseconds(2), n: 5, now: &now)
        #expect(l.limit == 25)
        var shed = 0
        for _ in 0..<10 {
            while l.acquire() {}
            for _ in 0..<100 where !l.acquire() { shed += 1 }
            now += .seconds(5)
            while l.inFlight > 0 { l.release(.dropped, now: now) }
        }
        #expect(l.limit == 1)
        #expect(shed == 1000)
        Self.answerBusy(&l, rtt: .milliseconds(2), n: 30, now: &now)
        #expect(l.limit == 31)
    }
}

/// The gate measures round trips with the clock it is given.
@Suite struct ConcurrencyGateTests {
    final class FakeClock: Sendable {
        let now = Mutex<Duration>(.zero)
        func advance(_ d: Duration) { now.withLock { $0 += d } }
    }

    @Test func measuresTheRoundTripFromThePermit() {
        let clock = FakeClock()
        var c = AdaptiveLimit.Configuration()
        c.initialLimit = 2
        let gate = ConcurrencyGate(service: "profiles", configuration: c, clock: { clock.now.withLock { $0 } })
        let a = gate.acquire()!
        let b = gate.acquire()!
        #expect(gate.acquire() == nil)
        clock.advance(.milliseconds(3))
        gate.release(a, .answered)
        #expect(gate.snapshot.limit == 3 && gate.snapshot.inFlight == 1)
        clock.advance(.milliseconds(30))
        gate.release(b, .answered)
        // 33 ms against a 3 ms baseline: queue = 3 × (1 − 3/33) ≈ 2.7 < alpha, but one of three in flight is idle.
        #expect(gate.snapshot.limit == 3 && gate.snapshot.inFlight == 0)
    }
}
