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
        let stack = try Stack()
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

/// The broker and registry every worker of the bench uses, and the data folder.
final class Stack: Sendable {
    let folder: String
    let broker: ChildProcess
    let registry: ChildProcess
    private let workers = Mutex<[ChildProcess]>([])

    init() throws {
        folder = NSTemporaryDirectory() + "metro-rpc-bench-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let broker = try ChildProcess.metro(
            "broker",
            [
                "broker", "--ingest", "tcp://127.0.0.1:*", "--publish", "tcp://127.0.0.1:*", "--events",
                "tcp://127.0.0.1:*", "--consume", "tcp://127.0.0.1:*", "--metrics", "", "--data-dir",
                folder + "/broker",
            ])
        do {
            registry = try ChildProcess.metro("registry", ["registry", "--endpoint", "tcp://127.0.0.1:*"])
        } catch {
            broker.stop()
            throw error
        }
        self.broker = broker
    }

    var ingest: String { broker.ready["ingest"]! }
    var consume: String { broker.ready["consume"]! }

    /// Starts `metro worker <service>` on `data` (a folder under the bench's); stopped by `stop()` at the latest.
    func worker(_ service: String, instance: String, data: String) throws -> ChildProcess {
        let w = try ChildProcess.metro(
            instance,
            [
                "worker", service, "--broker-ingest", ingest, "--broker-consume", consume, "--registry",
                registry.ready["endpoint"]!, "--data", folder + "/" + data, "--instance", instance,
            ])
        workers.withLock { $0.append(w) }
        return w
    }

    /// This binary as `serve-echo`.
    func serveEcho() throws -> ChildProcess {
        let p = try ChildProcess("serve-echo", URL(fileURLWithPath: CommandLine.arguments[0]), ["serve-echo"])
        workers.withLock { $0.append(p) }
        return p
    }

    /// Stops one worker now (SIGTERM: it drains and deregisters).
    func stop(_ w: ChildProcess) {
        w.stop()
        workers.withLock { $0.removeAll { $0 === w } }
    }

    /// Stops every process, workers first, and removes the data folder.
    func stop() {
        for w in workers.withLock({ $0 }) { w.stop() }
        workers.withLock { $0 = [] }
        registry.stop()
        broker.stop()
        try? FileManager.default.removeItem(atPath: folder)
    }
}

func loadAverage() -> String {
    ((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? "?").split(separator: " ").prefix(3)
        .joined(separator: " ")
}

func median<T>(_ runs: [T], by rate: (T) -> Double) -> T { runs.sorted { rate($0) < rate($1) }[runs.count / 2] }

func pad(_ s: String, _ n: Int) -> String { s.padding(toLength: n, withPad: " ", startingAt: 0) }
