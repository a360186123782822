import Foundation
import MetroTestKit
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The gateway when instances die, multiply or stall: real processes, kill -9 and SIGSTOP.
@Suite(.serialized) struct GatewayResilienceTests {
    @Test func theOnlyInstanceKilledGives503ThenServesAgainOnceANewOneRegisters() async throws {
        let s = try await GatewayStack()
        let g = s.gateway
        let id = try await s.createUser("Dee")
        #expect(try await g.get("/v1/users/\(id)").status == 200)

        s.profiles.process.kill(SIGKILL)
        _ = await s.profiles.exit()
        try await eventually("503 once the instance is gone", timeout: .seconds(15)) {
            let r = try await g.get("/v1/users/\(id)", headers: ["X-Request-Timeout": "1000"])
            return r.status == 503 && r.isProblem && r.json["service"] as? String == "profiles"
                && r.headers["retry-after"] != nil
        }
        // A flood of 503s is logged at most once a second (with the count held back), not once each.
        func lines() -> Int { g.process.stderrText.components(separatedBy: "GET /v1/users/\(id) 503").count - 1 }
        let before = lines()
        let flood = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    for _ in 0..<25 {
                        let status = try await g.get("/v1/users/\(id)").status
                        #expect(status == 503)
                    }
                }
            }
            try await group.waitForAll()
        }
        let seconds = Double((ContinuousClock.now - flood).components.seconds) + 1
        #expect(Double(lines() - before) <= seconds + 1, "200 answers 503: \(lines() - before) lines in ~\(seconds) s")
        #expect(await g.process.stderrShows("same-since-last-line"))
        try await s.profiles.restart(instance: "profiles-2")
        try await eventually("200 from the new instance", timeout: .seconds(15)) {
            try await g.get("/v1/users/\(id)").status == 200
        }
    }

    @Test func twoInstancesShareTheRequestsAndGetsSurviveOneKilledMidLoad() async throws {
        let s = try await GatewayStack(profilesArguments: ["--metrics", "127.0.0.1:0"])
        let second = try await ProfilesWorker.launch(
            broker: s.broker, registry: s.registry.endpoint, instance: "profiles-2",
            extra: ["--metrics", "127.0.0.1:0"], sharing: s.profiles)
        let g = s.gateway
        let id = try await s.createUser("Eve")
        try await eventually("both instances take requests") {
            _ = try await g.get("/v1/users/\(id)")
            let first = try await s.profiles.rpcRequests("profile.get")
            let other = try await second.rpcRequests("profile.get")
            return first > 0 && other > 0
        }

        // 8 readers in parallel; the second instance is killed once they run.
        let statuses = Recorder<[Int]>([])
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    for _ in 0..<25 {
                        let r = try await g.get("/v1/users/\(id)")
                        statuses.value.withLock { $0.append(r.status) }
                    }
                }
            }
            try await eventually("load running") { statuses.value.withLock { $0.count } >= 40 }
            second.process.kill(SIGKILL)
            try await group.waitForAll()
        }
        let all = statuses.value.withLock { $0 }
        #expect(all.count == 200)
        #expect(
            all.allSatisfy { $0 == 200 },
            "idempotent GETs retried on the other instance: \(Dictionary(all.map { ($0, 1) }, uniquingKeysWith: +))")
    }

    /// profiles is SIGSTOPped while 40 clients send 320 requests for it: no more
    /// than the limit (8) wait out their deadline, the rest are shed at once with
    /// 429 (or 503 once the instance's breaker opens), the registry's route keeps
    /// a low p99, and 200s return within seconds of SIGCONT. Without the limit
    /// (`--initial-limit 500`) all 40 first requests wait their 3 s out: the
    /// breaker opens only after failures, so it cannot shed the first wave.
    @Test func aStalledServiceIsShedFastAndOtherRoutesStayFast() async throws {
        let s = try await GatewayStack(gatewayArguments: ["--initial-limit", "8"])
        let g = s.gateway
        let id = try await s.createUser("Fay")
        try await s.profiles.process.freeze()
        var thawed = false
        defer { if !thawed { s.profiles.process.thaw() } }

        let shed = Recorder<[(status: Int, took: Duration)]>([])
        let other = Recorder(Latencies())
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<40 {
                group.addTask {
                    for _ in 0..<8 {
                        let start = ContinuousClock.now
                        let r = try await g.get("/v1/users/\(id)", headers: ["X-Request-Timeout": "3000"])
                        shed.value.withLock { $0.append((r.status, ContinuousClock.now - start)) }
                    }
                }
            }
            group.addTask {
                for _ in 0..<100 {
                    let start = ContinuousClock.now
                    let r = try await g.get("/v1/services")
                    #expect(r.status == 200)
                    other.value.withLock { $0.add(ContinuousClock.now - start) }
                }
            }
            try await group.waitForAll()
        }
        let results = shed.value.withLock { $0 }
        // "At once" is told from "waited for the 3 s deadline" with half the deadline as the
        // bound: each request is a new connection from a thread of its own, and with the whole
        // suite beside it on 2 cores a 429 took up to 0.65 s here end to end.
        let fast = results.filter { ($0.status == 429 || $0.status == 503) && $0.took < .milliseconds(1500) }
        let slow = results.filter { $0.status == 504 }
        let limited = results.filter { $0.status == 429 }
        #expect(results.count == 320)
        #expect(slow.count <= 16, "waited for the deadline: \(slow.count); shed at once \(fast.count)")
        // Which of 429 (the limit) and 503 (the breaker) a shed request gets depends on when it is
        // sent: the breaker opens once the first 8 reach their deadline at 3 s, and how many of the
        // 320 requests are sent before that depends on the machine's load (191 of 320 were 429s in
        // one full-suite run, 200+ alone). What does not: the 40 clients' first requests all go
        // before any deadline could pass, so at least 40 - 8 of them are refused by the limit.
        #expect(fast.count >= 300 && limited.count >= 32, "shed at once: \(fast.count), 429: \(limited.count)")
        #expect(results.allSatisfy { [429, 503, 504].contains($0.status) })
        let p99 = other.value.withLock { $0.percentile(0.99) }
        // A bound for a loaded 2-core machine (0.65 s seen with the whole suite running); the
        // missing-limiter case is caught by `slow` above (all 40 first requests wait 3 s).
        #expect(p99 < .milliseconds(1000), "p99 of GET /v1/services while profiles stalls: \(p99)")

        s.profiles.process.thaw()
        thawed = true
        let thawedAt = ContinuousClock.now
        try await eventually("200 again", timeout: .seconds(10)) {
            try await g.get("/v1/users/\(id)").status == 200
        }
        let recovery = ContinuousClock.now - thawedAt
        #expect(recovery < .seconds(5), "recovered in \(recovery)")
    }
}
