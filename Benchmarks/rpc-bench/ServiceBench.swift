import ArgumentParser
// metro-rpc-bench services: the service runtime with real processes (issue 14 §5),
// each figure beside a baseline measured in the same run.
//
//   swift build -c release --scratch-path .build-bench --product metro
//   swift build -c release --scratch-path .build-bench --product metro-rpc-bench
//   (one product per command: given two `--product` flags, swift build builds only the last)
//   .build-bench/release/metro-rpc-bench services [--only profile|events] [--rounds 3]
//       [--callers 1,4] [--calls 3000] [--events 5000] [--instances 1,2] [--worker profiles|echo]
//
// It starts a `metro broker` and a `metro registry` (the `metro` binary next to
// this one, ephemeral loopback ports, a temporary data folder), then:
// - ProfileGetBench: `profile.get` through `RpcClient` to `metro worker profiles`
//   (runtime + SQLite read), against `echo.say` on `metro worker echo` (runtime, no
//   SQLite) and against a bare `RpcServer` echo in a child process (neither);
// - EventsBench: events/s through the runtime's inbox with 1 and 2 worker
//   instances, against bare `Consumer`s that ACK at once.
// Everything it started is stopped at the end, also when a part fails.
import BenchSupport
import Foundation
import Synchronization

struct ServiceBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "services", abstract: "profile.get over rpc+SQLite and events/s through the inbox, real processes."
    )

    @Option(help: "Run one part: profile or events.")
    var only: String?

    @Option(help: "Rounds; every table row is the median round (by rate).")
    var rounds = 3

    @Option(help: "profile: caller counts, comma-separated.")
    var callers = "1,4"

    @Option(help: "profile: calls per row and round (split among the callers).")
    var calls = 3000

    @Option(help: "events: events published per row and round.")
    var events = 5000

    @Option(help: "events: worker instance counts, comma-separated.")
    var instances = "1,2"

    @Option(help: "events: the worker, profiles (video.watched → watch history) or echo (echo.* → row + outbox event).")
    var worker = "profiles"

    @Option(help: "events: credit window of each baseline Consumer (the runtime's is its handler concurrency, 8).")
    var window = 8

    func validate() throws {
        guard only == nil || only == "profile" || only == "events" else {
            throw ValidationError("--only is profile or events")
        }
        guard worker == "profiles" || worker == "echo" else { throw ValidationError("--worker is profiles or echo") }
    }

    func run() async throws {
        let stack = try BenchStack()
        defer { stack.stop() }
        print(
            "\(ProcessInfo.processInfo.activeProcessorCount) cores, load average \(loadAverage()) at start; broker with its default configuration"
        )
        if only == nil || only == "profile" {
            let bench = ProfileGetBench(
                stack: stack, callers: callers.split(separator: ",").compactMap { Int($0) }, calls: calls,
                rounds: rounds)
            try await bench.run()
        }
        if only == nil || only == "events" {
            let bench = EventsBench(
                stack: stack, kind: worker == "echo" ? .echo : .profiles, events: events,
                instances: instances.split(separator: ",").compactMap { Int($0) }, rounds: rounds, window: window)
            try await bench.run()
        }
    }
}

/// The rpc bench's own baseline server: this binary as `serve-echo`.
extension BenchStack {
    func serveEcho() throws -> ChildProcess {
        let p = try ChildProcess("serve-echo", URL(fileURLWithPath: CommandLine.arguments[0]), ["serve-echo"])
        adopt(p)
        return p
    }
}

func median<T>(_ runs: [T], by rate: (T) -> Double) -> T { runs.sorted { rate($0) < rate($1) }[runs.count / 2] }

func pad(_ s: String, _ n: Int) -> String { s.padding(toLength: n, withPad: " ", startingAt: 0) }
