import MetroGateway
import Synchronization
import Testing

/// The adaptive limit as a pure value: every transition, round trips passed in.
@Suite struct AdaptiveLimitTests {
    static func limit(initial: Int = 10, min: Int = 1, max: Int = 100) -> AdaptiveLimit {
        var c = AdaptiveLimit.Configuration()
        c.initialLimit = initial
        c.minLimit = min
        c.maxLimit = max
        c.latencyFloor = .zero  // the plain gradient; aLatencyFloor… tests the floor
        return AdaptiveLimit(c)
    }

    /// Fills the limit, then answers one request after `rtt`, `n` times, taking
    /// new permits after each (the limit stays in use, never app-limited); the
    /// answers come 1 ms apart on the clock `now`.
    static func answerBusy(_ l: inout AdaptiveLimit, rtt: Duration, n: Int, now: inout Duration) {
        while l.acquire() {}
        for _ in 0..<n {
            now += .milliseconds(1)
            l.release(.answered(rtt: rtt, at: now))
            while l.acquire() {}
        }
    }

    static func answerBusy(_ l: inout AdaptiveLimit, rtt: Duration, n: Int) {
        var now = Duration.zero
        answerBusy(&l, rtt: rtt, n: n, now: &now)
    }

    @Test func refusesOverTheLimitAndFreesOnRelease() {
        var l = Self.limit(initial: 3)
        let taken = (0..<4).map { _ in l.acquire() }
        #expect(taken == [true, true, true, false])
        #expect(l.inFlight == 3)
        l.release(.ignored)
        #expect(l.inFlight == 2 && l.limit == 3)
        let again = (0..<2).map { _ in l.acquire() }
        #expect(again == [true, false])
    }

    @Test func growsWhileBusyAndLatencyStaysNearItsBaseline() {
        var l = Self.limit(initial: 10, max: 13)
        // Each sample moves the limit by queueSize × smoothing = 0.8.
        Self.answerBusy(&l, rtt: .milliseconds(2), n: 2)
        #expect(l.limit == 11)
        #expect(l.baselineRtt == 0.002 && l.smoothedRtt == 0.002)
        Self.answerBusy(&l, rtt: .milliseconds(2), n: 10)
        #expect(l.limit == 13, "capped at maxLimit")
    }

    @Test func doesNotGrowWhenIdle() {
        var l = Self.limit(initial: 10)
        for i in 1...50 {
            _ = l.acquire()
            l.release(.answered(rtt: .milliseconds(1), at: .milliseconds(i)))
        }
        #expect(l.limit == 10, "one request in flight of ten says nothing about room for more")
    }

    /// Latency that rises within the tolerance (1.5×) is load the service
    /// sustains: the limit keeps growing.
    @Test func toleratesLatencyWithinTheTolerance() {
        var l = Self.limit(initial: 20)
        var now = Duration.zero
        Self.answerBusy(&l, rtt: .milliseconds(2), n: 1, now: &now)
        Self.answerBusy(&l, rtt: .microseconds(2800), n: 10, now: &now)
        #expect(l.limit == 28)
    }

    @Test func shrinksWhenLatencyRisesBeyondTheTolerance() {
        var l = Self.limit(initial: 20)
        var now = Duration.zero
        Self.answerBusy(&l, rtt: .milliseconds(2), n: 1, now: &now)
        #expect(l.limit == 20)
        // 3× the baseline: the smoothed rtt passes 3 ms (the tolerance) after two
        // samples, the limit then falls by up to 10% a sample.
        Self.answerBusy(&l, rtt: .milliseconds(6), n: 20, now: &now)
        #expect(l.limit < 12)
        let baseline = l.baselineRtt ?? 0
        #expect(baseline > 0.002 && baseline < 0.0021, "the baseline creeps up slowly (30 s time constant)")
    }

    /// With a latency floor, a rise that stays under it is not overload: the same
    /// 3× rise that shrinks the plain limit lets it grow; past the floor it shrinks.
    @Test func aLatencyFloorKeepsTheLimitWhileTheRttStaysUnderIt() {
        var c = Self.limit(initial: 20).configuration
        c.latencyFloor = .milliseconds(8)
        var floored = AdaptiveLimit(c)
        var now = Duration.zero
        Self.answerBusy(&floored, rtt: .milliseconds(2), n: 1, now: &now)
        Self.answerBusy(&floored, rtt: .milliseconds(6), n: 20, now: &now)
        #expect(floored.limit > 20, "6 ms is under the 8 ms floor")
        let before = floored.limit
        Self.answerBusy(&floored, rtt: .milliseconds(24), n: 20, now: &now)
        #expect(floored.limit < before, "24 ms is 3× the floor")
    }

    /// The baseline follows a lasting change: 40 s of a service twice as slow
    /// make its latency the norm, and the limit grows again.
    @Test func aLastingSlowerServiceBecomesTheBaseline() {
        var l = Self.limit(initial: 20, max: 1000)
        var now = Duration.zero
        Self.answerBusy(&l, rtt: .milliseconds(2), n: 10, now: &now)
        for _ in 0..<400 {
            now += .milliseconds(100)
            while l.acquire() {}
            l.release(.answered(rtt: .milliseconds(4), at: now))
        }
        let baseline = l.baselineRtt ?? 0
        #expect(baseline > 0.0033, "baseline \(baseline)")
        let before = l.limit
        Self.answerBusy(&l, rtt: .milliseconds(4), n: 20, now: &now)
        #expect(l.limit > before)
    }

    /// An idle gap does not count as time under load: the baseline creeps by at
    /// most a second's worth.
    @Test func anIdleGapDoesNotRaiseTheBaseline() {
        var l = Self.limit(initial: 20)
        var now = Duration.zero
        Self.answerBusy(&l, rtt: .milliseconds(2), n: 10, now: &now)
        now += .seconds(600)
        Self.answerBusy(&l, rtt: .milliseconds(8), n: 1, now: &now)
        let baseline = l.baselineRtt ?? 0
        #expect(baseline < 0.0022, "baseline \(baseline)")
    }

    @Test func dropsCutTheLimitMultiplicativelyDownToTheFloor() {
        var l = Self.limit(initial: 20, min: 2)
        while l.acquire() {}
        l.release(.dropped)
        #expect(l.limit == 18)
        l.release(.dropped)
        #expect(l.limit == 16)
        for _ in 0..<18 { l.release(.dropped) }
        #expect(l.limit == 2 && l.inFlight == 0)
    }

    /// The overload story in miniature: a service that stops answering (SIGSTOP)
    /// holds the limit's permits until their deadlines drop them; the limit falls
    /// to its floor, so at most that many requests wait on it while the rest are
    /// shed; once it answers again the limit climbs back.
    @Test func aStalledServiceIsHeldToTheFloorAndRecovers() {
        var l = Self.limit(initial: 20, min: 1, max: 100)
        var now = Duration.zero
        Self.answerBusy(&l, rtt: .milliseconds(2), n: 5, now: &now)
        #expect(l.limit == 24)
        var shed = 0
        for _ in 0..<10 {
            while l.acquire() {}
            for _ in 0..<100 where !l.acquire() { shed += 1 }
            while l.inFlight > 0 { l.release(.dropped) }
        }
        #expect(l.limit == 1)
        #expect(shed == 1000)
        now += .seconds(3)
        Self.answerBusy(&l, rtt: .milliseconds(2), n: 60, now: &now)
        #expect(l.limit >= 20)
    }
}

/// The gate measures round trips with the clock it is given.
@Suite struct ConcurrencyGateTests {
    final class FakeClock: Sendable {
        let now = Mutex<Duration>(.zero)
        func advance(_ d: Duration) { now.withLock { $0 += d } }
    }

    @Test func measuresTheRoundTripFromThePermitWithItsClock() {
        let clock = FakeClock()
        var c = AdaptiveLimit.Configuration()
        c.initialLimit = 2
        let gate = ConcurrencyGate(service: "profiles", configuration: c, clock: { clock.now.withLock { $0 } })
        // The same requests fed to a bare limit, with the round trips the clock makes.
        var expected = AdaptiveLimit(c)
        _ = expected.acquire()
        _ = expected.acquire()

        let a = gate.acquire()!
        clock.advance(.milliseconds(1))
        let b = gate.acquire()!
        #expect(gate.acquire() == nil)
        clock.advance(.milliseconds(2))
        gate.release(a, .answered)
        expected.release(.answered(rtt: .milliseconds(3), at: .milliseconds(3)))
        #expect(gate.snapshot.limit == expected.limit && gate.snapshot.inFlight == 1)
        #expect(gate.snapshot.baselineRtt == 0.003)
        _ = gate.acquire()!
        _ = expected.acquire()
        clock.advance(.milliseconds(40))
        gate.release(b, .answered)
        expected.release(.answered(rtt: .milliseconds(42), at: .milliseconds(43)))
        #expect(gate.snapshot.limit == expected.limit && gate.snapshot.inFlight == 1)
        #expect(expected.limit == 3)
        #expect(gate.snapshot.baselineRtt == expected.baselineRtt)
    }
}
