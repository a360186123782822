import Testing

@testable import MetroKit

/// The breaker with a hand-moved clock: every instant is `t0` plus an offset.
@Suite struct CircuitBreakerTests {
    let t0 = ContinuousClock.now
    let config = CircuitBreaker.Configuration(
        consecutiveFailures: 3, failureRate: 0.5, rateWindow: 10, minimumCalls: 6, coolDown: .seconds(2))

    func at(_ ms: Int) -> ContinuousClock.Instant { t0 + .milliseconds(ms) }

    @Test func opensAfterConsecutiveFailuresAndRefusesUntilTheCoolDown() {
        var b = CircuitBreaker(config)
        for i in 0..<2 {
            let ok1 = b.acquire(now: at(i))
            #expect(ok1)
            b.record(failure: true, now: at(i))
        }
        #expect(b.state == .closed)
        let ok2 = b.acquire(now: at(2))
        #expect(ok2)
        b.record(failure: true, now: at(2))
        #expect(b.state == .open(since: at(2)))
        #expect(!b.isAvailable(now: at(1000)))
        let ok3 = b.acquire(now: at(2001))
        #expect(!ok3)
        #expect(b.isAvailable(now: at(2002)))
    }

    @Test func aSuccessResetsTheConsecutiveCount() {
        var b = CircuitBreaker(config)
        for (i, failure) in [true, true, false, true, true].enumerated() {
            let ok4 = b.acquire(now: at(i))
            #expect(ok4)
            b.record(failure: failure, now: at(i))
        }
        #expect(b.state == .closed)
    }

    @Test func opensOnTheFailureRateOverTheWindow() {
        var b = CircuitBreaker(config)
        // Alternating: never 3 in a row, but half of the calls fail.
        for i in 0..<5 {
            b.record(failure: i % 2 == 0, now: at(i))  // f s f s f: 3 of 5, under minimumCalls
        }
        #expect(b.state == .closed)
        b.record(failure: false, now: at(5))  // 3 of 6: the rate is reached, but by a success
        #expect(b.state == .closed)
        b.record(failure: true, now: at(6))  // 4 of 7
        #expect(b.state == .open(since: at(6)))
    }

    @Test func hearingFromTheInstanceLetsTheNextCallProbeBeforeTheCoolDown() {
        var b = CircuitBreaker(config)
        b.heard()
        #expect(b.state == .closed)
        for i in 0..<3 { b.record(failure: true, now: at(i)) }
        #expect(!b.isAvailable(now: at(100)))
        b.heard()
        #expect(b.state == .halfOpen(probing: false) && b.isAvailable(now: at(100)))
        let probe = b.acquire(now: at(100))
        let second = b.acquire(now: at(100))
        #expect(probe && !second)
        // The probe decides, as after a cool-down: its failure opens the circuit again.
        b.heard()
        #expect(b.state == .halfOpen(probing: true))
        b.record(failure: true, now: at(150))
        #expect(b.state == .open(since: at(150)))
        // A success of a call sent before the circuit opened says the same as heard().
        b.record(failure: false, now: at(200))
        #expect(b.state == .halfOpen(probing: false))
        // A failure of such a call adds nothing to an open circuit.
        let again = b.acquire(now: at(250))
        #expect(again)
        b.record(failure: true, now: at(250))
        b.record(failure: true, now: at(260))
        #expect(b.state == .open(since: at(250)))
    }

    @Test func halfOpenLetsExactlyOneProbeThrough() {
        var b = CircuitBreaker(config)
        for i in 0..<3 { b.record(failure: true, now: at(i)) }
        let ok5 = b.acquire(now: at(2002))
        #expect(ok5)
        #expect(b.state == .halfOpen(probing: true))
        let ok6 = b.acquire(now: at(2003))
        #expect(!ok6)
        #expect(!b.isAvailable(now: at(2003)))
        b.record(failure: false, now: at(2010))
        #expect(b.state == .closed)
        let ok7 = b.acquire(now: at(2011))
        #expect(ok7)
    }

    @Test func aFailedProbeOpensAgainForAnotherCoolDown() {
        var b = CircuitBreaker(config)
        for i in 0..<3 { b.record(failure: true, now: at(i)) }
        let ok8 = b.acquire(now: at(3000))
        #expect(ok8)
        b.record(failure: true, now: at(3001))
        #expect(b.state == .open(since: at(3001)))
        let ok9 = b.acquire(now: at(5000))
        #expect(!ok9)
        let ok10 = b.acquire(now: at(5001))
        #expect(ok10)
    }

    @Test func aReleasedProbeFreesTheSlot() {
        var b = CircuitBreaker(config)
        for i in 0..<3 { b.record(failure: true, now: at(i)) }
        let ok11 = b.acquire(now: at(2002))
        #expect(ok11)
        b.release()
        #expect(b.state == .halfOpen(probing: false))
        let ok12 = b.acquire(now: at(2003))
        #expect(ok12)
    }

    @Test func onlyInstanceFailuresCount() {
        let counted: [RpcAttemptFailure] = [
            .disconnected, .timedOut, .remote(107), .remote(109), .remote(402), .remote(408),
        ]
        // 205: a service's storage refused the write; every instance shares it.
        let notCounted: [RpcAttemptFailure] = [400, 401, 403, 404, 405, 406, 407, 205].map { .remote($0) }
        #expect(counted.map(\.countsAgainstInstance) == Array(repeating: true, count: counted.count))
        #expect(notCounted.map(\.countsAgainstInstance) == Array(repeating: false, count: notCounted.count))
    }
}

@Suite struct RpcBalancerTests {
    typealias C = RpcBalancer.Candidate

    /// The picks of `rounds` calls in a row over the same candidates, by a new balancer.
    func picks(_ cs: [C], _ rounds: Int = 1) -> [Result<Int, RpcBalancer.NoPick>] {
        var b = RpcBalancer()
        return (0..<rounds).map { _ in b.pick(cs) }
    }

    @Test func picksTheLeastOutstanding() {
        let cs = [C(outstanding: 3, available: true, tried: false), C(outstanding: 1, available: true, tried: false)]
        #expect(picks(cs, 2) == [.success(1), .success(1)])
    }

    @Test func breaksTiesRoundRobin() {
        let cs = Array(repeating: C(outstanding: 0, available: true, tried: false), count: 3)
        #expect(picks(cs, 6) == [0, 1, 2, 0, 1, 2].map { .success($0) })
    }

    @Test func skipsOpenCircuitsAndTriedInstances() {
        let cs = [
            C(outstanding: 0, available: false, tried: false), C(outstanding: 0, available: true, tried: true),
            C(outstanding: 9, available: true, tried: false),
        ]
        #expect(picks(cs, 1) == [.success(2)])
    }

    @Test func saysWhyNothingWasPicked() {
        #expect(picks([], 1) == [.failure(.noInstance)])
        #expect(picks([C(outstanding: 0, available: true, tried: true)], 1) == [.failure(.noInstance)])
        let openOrTried = [
            C(outstanding: 0, available: false, tried: false), C(outstanding: 0, available: true, tried: true),
        ]
        #expect(picks(openOrTried, 1) == [.failure(.circuitOpen)])
    }

    @Test func neverPicksADisconnectedInstance() {
        let down = C(outstanding: 0, available: true, tried: false, down: true)
        let up = C(outstanding: 5, available: true, tried: false)
        #expect(picks([down, up], 1) == [.success(1)])
        #expect(picks([down], 1) == [.failure(.noInstance)])
    }
}

@Suite struct RpcRetryPolicyTests {
    let policy = RpcRetryPolicy(maxAttempts: 3, minimumBudget: .milliseconds(5))

    @Test func aDisconnectIsRetriedOnlyForIdempotentMethods() {
        #expect(policy.shouldRetry(.disconnected, idempotent: true, attemptsMade: 1, remaining: .seconds(1)))
        #expect(!policy.shouldRetry(.disconnected, idempotent: false, attemptsMade: 1, remaining: .seconds(1)))
        #expect(policy.shouldRetry(.remote(107), idempotent: true, attemptsMade: 1, remaining: .seconds(1)))
        #expect(!policy.shouldRetry(.remote(107), idempotent: false, attemptsMade: 1, remaining: .seconds(1)))
    }

    /// A refused CURVE key sent nothing: another instance may take the call, for any method.
    @Test func aRefusedKeyIsRetriedElsewhereForAnyMethod() {
        #expect(policy.shouldRetry(.keyRefused(400), idempotent: false, attemptsMade: 1, remaining: .seconds(1)))
        #expect(!policy.shouldRetry(.keyRefused(400), idempotent: false, attemptsMade: 3, remaining: .seconds(1)))
    }

    @Test func aRefusalThatProvesNothingRanIsRetriedForAnyMethod() {
        for code: UInt16 in [402, 109, 408] {
            #expect(policy.shouldRetry(.remote(code), idempotent: false, attemptsMade: 1, remaining: .seconds(1)))
        }
    }

    @Test func domainErrorsStorageAndTimeoutsAreNeverRetried() {
        for code: UInt16 in [400, 401, 403, 404, 405, 406, 407, 205] {
            #expect(!policy.shouldRetry(.remote(code), idempotent: true, attemptsMade: 1, remaining: .seconds(1)))
        }
        #expect(!policy.shouldRetry(.timedOut, idempotent: true, attemptsMade: 1, remaining: .seconds(1)))
    }

    @Test func retriesStayWithinTheAttemptsAndTheRemainingDeadline() {
        #expect(!policy.shouldRetry(.disconnected, idempotent: true, attemptsMade: 3, remaining: .seconds(1)))
        #expect(!policy.shouldRetry(.disconnected, idempotent: true, attemptsMade: 1, remaining: .milliseconds(4)))
        #expect(policy.shouldRetry(.disconnected, idempotent: true, attemptsMade: 2, remaining: .milliseconds(5)))
    }
}
