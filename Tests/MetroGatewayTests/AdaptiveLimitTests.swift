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
        return AdaptiveLimit(c)
    }

    /// Fills the limit, then answers one request after `rtt`, `n` times, taking
    /// new permits after each (the limit stays in use, never app-limited).
    static func answerBusy(_ l: inout AdaptiveLimit, rtt: Duration, n: Int) {
        while l.acquire() {}
        for _ in 0..<n {
            l.release(.answered(rtt: rtt))
            while l.acquire() {}
        }
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

    @Test func growsWhileBusyAndLatencyStaysNearItsAverage() {
        var l = Self.limit(initial: 10, max: 15)
        // Each sample moves the limit by queueSize × smoothing = 0.8.
        Self.answerBusy(&l, rtt: .milliseconds(2), n: 3)
        #expect(l.limit == 12)
        #expect(l.averageRtt == 0.002)
        Self.answerBusy(&l, rtt: .milliseconds(2), n: 10)
        #expect(l.limit == 15, "capped at maxLimit")
    }

    @Test func doesNotGrowWhenIdle() {
        var l = Self.limit(initial: 10)
        for _ in 1...50 {
            _ = l.acquire()
            l.release(.answered(rtt: .milliseconds(1)))
        }
        #expect(l.limit == 10, "one request in flight of ten says nothing about room for more")
    }

    /// Load that makes latency rise within the tolerance (2×) is load the service
    /// sustains: the limit keeps growing.
    @Test func toleratesLatencyUpToTwiceItsAverage() {
        var l = Self.limit(initial: 20)
        Self.answerBusy(&l, rtt: .milliseconds(2), n: 1)
        Self.answerBusy(&l, rtt: .microseconds(3500), n: 5)
        #expect(l.limit == 24)
    }

    @Test func shrinksWhenLatencyRisesBeyondTheTolerance() {
        var l = Self.limit(initial: 20)
        Self.answerBusy(&l, rtt: .milliseconds(2), n: 1)
        #expect(l.limit == 20)
        // 5× the average: gradient 0.5, each sample limit = 0.9 × limit + 0.8.
        Self.answerBusy(&l, rtt: .milliseconds(10), n: 5)
        #expect(l.limit == 15)
        let average = l.averageRtt ?? 0
        #expect(average > 0.0027 && average < 0.0028, "the average moves slowly toward the new latency")
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
        Self.answerBusy(&l, rtt: .milliseconds(2), n: 4)
        #expect(l.limit == 23)
        var shed = 0
        for _ in 0..<10 {
            while l.acquire() {}
            for _ in 0..<100 where !l.acquire() { shed += 1 }
            while l.inFlight > 0 { l.release(.dropped) }
        }
        #expect(l.limit == 1)
        #expect(shed == 1000)
        Self.answerBusy(&l, rtt: .milliseconds(2), n: 31)
        #expect(l.limit == 25)
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
        expected.release(.answered(rtt: .milliseconds(3)))
        #expect(gate.snapshot.limit == expected.limit && gate.snapshot.inFlight == 1)
        #expect(gate.snapshot.averageRtt == 0.003)
        _ = gate.acquire()!
        _ = expected.acquire()
        clock.advance(.milliseconds(40))
        gate.release(b, .answered)
        expected.release(.answered(rtt: .milliseconds(42)))
        #expect(gate.snapshot.limit == expected.limit && gate.snapshot.inFlight == 1)
        #expect(expected.limit == 3)
        #expect(gate.snapshot.averageRtt == expected.averageRtt)
    }
}
