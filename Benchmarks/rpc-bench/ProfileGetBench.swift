import BenchSupport
import Foundation
import Histogram
import MetroKit
import Profiles

/// `profile.get` through `RpcClient` to a real `metro worker profiles` (a SQLite
/// read in the runtime), with two baselines of the same number of calls in the
/// same round: `echo.say` on `metro worker echo` (the runtime, no SQLite) and a
/// bare `RpcServer` echo in a child process (no runtime, no SQLite). Each caller
/// is a task calling in a loop; the server's CPU per call comes from /proc.
struct ProfileGetBench {
    let stack: BenchStack
    let callers: [Int]
    let calls: Int
    let rounds: Int
    /// Users created before the clock starts; `profile.get` cycles through them.
    let users = 200

    struct Target {
        let name: String
        let process: ChildProcess
        let client: RpcClient
        let method: String
        let bodies: [[UInt8]]
    }

    struct Run {
        var rate: Double
        var p50: Double
        var p99: Double
        var serverCPU: Double
    }

    func run() async throws {
        let bare = try stack.serveEcho()
        let echo = try stack.worker("echo", instance: "echo-rpc", data: "echo-rpc")
        let profiles = try stack.worker("profiles", instance: "profiles-rpc", data: "profiles-rpc")
        let clients = try [bare, echo, profiles].map { try RpcClient(endpoints: [$0.ready["rpc"]!]) }
        do {
            try await measureAll(bare, echo, profiles, clients)
        } catch {
            for c in clients { await c.close() }
            throw error
        }
        for c in clients { await c.close() }
        // These instances are in the groups `echo` and `profiles`: the events part must not share them.
        for p in [bare, echo, profiles] { stack.stop(p) }
    }

    private func measureAll(
        _ bare: ChildProcess, _ echo: ChildProcess, _ profiles: ChildProcess, _ clients: [RpcClient]
    ) async throws {
        var ids: [String] = []
        for i in 0..<users {
            let user = try await clients[2].call(
                ProfilesAPI.create,
                CreateProfileRequest(
                    displayName: "Bench User \(i)", email: "bench\(i)@example.com", favouriteTags: ["a"]))
            ids.append(user.id)
        }
        let getBodies = ids.map { Array("{\"id\":\"\($0)\"}".utf8) }
        // The echo bodies have the size of a profile.get request.
        let echoBody = Array("{\"text\":\"\(String(repeating: "x", count: getBodies[0].count - 11))\"}".utf8)
        let targets = [
            Target(
                name: "bare RpcServer echo (child)", process: bare, client: clients[0], method: "bench.echo",
                bodies: [echoBody]),
            Target(
                name: "worker echo: echo.say", process: echo, client: clients[1], method: "echo.say", bodies: [echoBody]
            ),
            Target(
                name: "worker profiles: profile.get", process: profiles, client: clients[2], method: "profile.get",
                bodies: getBodies),
        ]
        for t in targets { _ = try await t.client.call(method: t.method, body: t.bodies[0], idempotent: true) }
        print(
            "\nprofile.get vs echo: \(calls) calls per row and round, \(rounds) rounds (median by rate), \(users) users"
        )
        var results: [String: [Run]] = [:]
        for _ in 0..<rounds {
            for n in callers {
                for t in targets { results["\(t.name) \(n)", default: []].append(try await measure(t, callers: n)) }
            }
        }
        print("path                             callers   calls/s   p50 µs   p99 µs   server CPU µs/call")
        for n in callers {
            var rates: [Double] = []
            for t in targets {
                let m = median(results["\(t.name) \(n)"]!) { $0.rate }
                rates.append(m.rate)
                print(
                    pad(t.name, 33) + pad(String(n), 8)
                        + String(format: "%9.0f  %7.0f  %7.0f   %8.1f", m.rate, m.p50, m.p99, m.serverCPU * 1e6))
            }
            print(
                String(
                    format:
                        "  %d caller(s): profile.get/bare echo %.2f, echo.say/bare echo %.2f, profile.get/echo.say %.2f",
                    n, rates[2] / rates[0], rates[1] / rates[0], rates[2] / rates[1]))
        }
    }

    /// `calls` calls split among `callers` tasks; rate over the wall clock of them all.
    private func measure(_ t: Target, callers: Int) async throws -> Run {
        let cpu0 = t.process.cpuSeconds
        let start = ContinuousClock.now, usage0 = Usage.now()
        let each = calls / callers
        let histograms = try await withThrowingTaskGroup(of: Histogram<UInt64>.self) { group in
            for c in 0..<callers {
                group.addTask {
                    var h = Measurement.histogram()
                    for i in 0..<each {
                        let body = t.bodies[(c * each + i) % t.bodies.count]
                        let t0 = ContinuousClock.now
                        _ = try await t.client.call(method: t.method, body: body, idempotent: true)
                        _ = h.record(Measurement.nanoseconds(ContinuousClock.now - t0))
                    }
                    return h
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let elapsed = ContinuousClock.now - start
        let cpu = t.process.cpuSeconds - cpu0
        let m = Measurement(histograms, seconds: seconds(elapsed), usage: Usage.now() - usage0)
        return Run(rate: m.rate, p50: m.p50, p99: m.p99, serverCPU: cpu / Double(each * callers))
    }
}
