import ArgumentParser
// metro-rpc-bench: rpc round trips per second and latency percentiles, with 1 and 4
// callers, through `RpcClient` to a trivial echo `RpcServer`, against a bare Swift
// DEALER→ROUTER echo (ZeroMQ module, same frames, blocking send/receive on plain
// threads) in the same run; prints the ratio. Both servers run in this process.
//
//   swift build -c release --scratch-path .build-bench --product metro-rpc-bench
//   .build-bench/release/metro-rpc-bench [echo] [--callers 1,4] [--seconds 3] [--rounds 3]
// (`echo` is the default subcommand; `services` is ServiceBench.swift.)
import BenchSupport
import Foundation
import Histogram
import MetroKit
import MetroProtocol
import Synchronization
import ZeroMQ

struct RpcBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "echo", abstract: "rpc round trips through RpcClient vs a bare DEALER→ROUTER echo.")

    @Option(help: "Caller counts to measure, comma-separated.")
    var callers = "1,4"

    @Option(help: "Seconds per run.")
    var seconds = 3.0

    @Option(help: "Rounds (each measures bare, then rpc, for every caller count); the table shows medians.")
    var rounds = 3

    @Option(help: "Body bytes per call.")
    var body = 64

    @Flag(help: "Also measure the cross paths (RpcClient → bare echo, bare DEALER → RpcServer): where the cost is.")
    var breakdown = false

    func run() async throws {
        let payload = [UInt8](repeating: 0x61, count: body)
        let server = try RpcServer(.init(), handler: { .reply($0.body) })
        let rpcEndpoint = try await server.start()
        var inline = RpcServer.Options()
        inline.handlersOnIOThread = true
        let inlineServer = try RpcServer(inline, handler: { .reply($0.body) })
        let inlineEndpoint = try await inlineServer.start()
        let echo = try BareEcho()
        let client = try RpcClient(endpoints: [rpcEndpoint])
        let inlineClient = try RpcClient(endpoints: [inlineEndpoint])
        let clientToBare = try RpcClient(endpoints: [echo.endpoint])
        // Connect before the clock starts.
        _ = try await client.call(method: "bench.echo", body: payload)
        _ = try await inlineClient.call(method: "bench.echo", body: payload)
        _ = try await clientToBare.call(method: "bench.echo", body: payload)
        let counts = callers.split(separator: ",").compactMap { Int($0) }
        print(
            "echo of \(body) B, \(seconds) s per run, \(rounds) rounds (medians), \(ProcessInfo.processInfo.activeProcessorCount) cores"
        )
        var results: [String: [Measurement]] = [:]
        for _ in 0..<rounds {
            for n in counts {
                results["bare \(n)", default: []].append(try await measureBare(echo.endpoint, callers: n, payload))
                results["rpc \(n)", default: []].append(try await measureRpc(client, callers: n, payload))
                results["inline \(n)", default: []].append(try await measureRpc(inlineClient, callers: n, payload))
                if breakdown {
                    results["client \(n)", default: []].append(try await measureRpc(clientToBare, callers: n, payload))
                    results["server \(n)", default: []].append(try await measureBare(rpcEndpoint, callers: n, payload))
                    results["server inline \(n)", default: []].append(
                        try await measureBare(inlineEndpoint, callers: n, payload))
                }
            }
        }
        print("path                            callers   calls/s   p50 µs   p99 µs   CPU µs/call   sleeps/call")
        for n in counts {
            let bare = Measurement.median(results["bare \(n)"]!)
            let rpc = Measurement.median(results["rpc \(n)"]!)
            let inline = Measurement.median(results["inline \(n)"]!)
            print(row("bare DEALER→ROUTER echo", n, bare))
            print(row("RpcClient → RpcServer", n, rpc))
            print(row("  … handlersOnIOThread", n, inline))
            if breakdown {
                print(row("RpcClient → bare echo", n, Measurement.median(results["client \(n)"]!)))
                print(row("bare DEALER → RpcServer", n, Measurement.median(results["server \(n)"]!)))
                print(row("  … handlersOnIOThread", n, Measurement.median(results["server inline \(n)"]!)))
            }
            print(
                String(
                    format: "  ratio rpc/bare, %d caller(s): %.2f, handlersOnIOThread %.2f (target ≥ 0.80)", n,
                    rpc.rate / bare.rate, inline.rate / bare.rate))
        }
        await client.close()
        await inlineClient.close()
        await inlineServer.close()
        await clientToBare.close()
        await server.close()
        echo.stop()
    }

    private func row(_ name: String, _ n: Int, _ m: Measurement) -> String {
        name.padding(toLength: 32, withPad: " ", startingAt: 0)
            + String(n).padding(toLength: 8, withPad: " ", startingAt: 0)
            + String(format: "%9.0f  %7.0f  %7.0f  %10.1f  %12.2f", m.rate, m.p50, m.p99, m.cpuPerCall, m.sleepsPerCall)
    }

    /// `callers` tasks, each calling in a loop for `seconds`.
    private func measureRpc(_ client: RpcClient, callers: Int, _ payload: [UInt8]) async throws -> Measurement {
        let usage0 = Usage.now()
        let end = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        let histograms = try await withThrowingTaskGroup(of: Histogram<UInt64>.self) { group in
            for _ in 0..<callers {
                group.addTask {
                    var h = Measurement.histogram()
                    while true {
                        let t0 = ContinuousClock.now
                        if t0 >= end { break }
                        _ = try await client.call(method: "bench.echo", body: payload)
                        _ = h.record(Measurement.nanoseconds(ContinuousClock.now - t0))
                    }
                    return h
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        return Measurement(histograms, seconds: seconds, usage: Usage.now() - usage0)
    }

    /// `callers` threads, each with its own DEALER, sending the same REQUEST frames
    /// and blocking on the answer.
    private func measureBare(_ endpoint: String, callers: Int, _ payload: [UInt8]) async throws -> Measurement {
        let request = RpcRequest(
            requestID: Array("bench-1".utf8), method: "bench.echo", deadlineMilliseconds: 5000, body: payload
        ).encode()
        let histograms = Collected()
        let duration = seconds
        let usage0 = Usage.now()
        let context = try Context(ioThreads: 1, defaultLingerMilliseconds: 0)
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<callers {
                group.addTask {
                    await DedicatedThread.run(name: "bench-bare") {
                        guard let dealer = try? context.socket(.dealer), (try? dealer.connect(endpoint)) != nil else {
                            return
                        }
                        defer { dealer.close() }
                        _ = try? dealer.send(multipart: request)
                        _ = try? dealer.receiveMultipart()
                        var h = Measurement.histogram()
                        let end = ContinuousClock.now + .milliseconds(Int(duration * 1000))
                        while true {
                            let t0 = ContinuousClock.now
                            if t0 >= end { break }
                            guard (try? dealer.send(multipart: request)) != nil,
                                let answer = try? dealer.receiveMultipart(), answer.count == RpcReply.replyFrameCount
                            else { return }
                            _ = h.record(Measurement.nanoseconds(ContinuousClock.now - t0))
                        }
                        histograms.add(h)
                    }
                }
            }
        }
        let usage = Usage.now() - usage0
        context.shutdown()
        return Measurement(histograms.all, seconds: seconds, usage: usage)
    }
}

/// One run: calls per second, latency percentiles in µs, and the CPU time of the
/// whole process (callers, client, server: every thread) per call in µs, which is
/// steadier than the rate on a shared machine.
struct Measurement {
    var rate: Double
    var p50: Double
    var p99: Double
    var cpuPerCall: Double
    var sleepsPerCall: Double

    init(rate: Double, p50: Double, p99: Double, cpuPerCall: Double, sleepsPerCall: Double) {
        self.rate = rate
        self.p50 = p50
        self.p99 = p99
        self.cpuPerCall = cpuPerCall
        self.sleepsPerCall = sleepsPerCall
    }

    init(_ histograms: [Histogram<UInt64>], seconds: Double, usage: Usage) {
        var all = Self.histogram()
        for h in histograms { all.add(h) }
        self.init(
            rate: Double(all.totalCount) / seconds, p50: Double(all.valueAtPercentile(50)) / 1000,
            p99: Double(all.valueAtPercentile(99)) / 1000,
            cpuPerCall: usage.cpuSeconds * 1e6 / Double(max(1, all.totalCount)),
            sleepsPerCall: Double(usage.sleeps) / Double(max(1, all.totalCount))
        )
    }

    static func histogram() -> Histogram<UInt64> {
        Histogram<UInt64>(highestTrackableValue: 10_000_000_000, numberOfSignificantValueDigits: .three)
    }

    static func nanoseconds(_ d: Duration) -> UInt64 {
        UInt64(d.components.seconds) * 1_000_000_000 + UInt64(d.components.attoseconds / 1_000_000_000)
    }

    /// The run with the median rate (its percentiles with it).
    static func median(_ runs: [Measurement]) -> Measurement {
        runs.sorted { $0.rate < $1.rate }[runs.count / 2]
    }
}

/// What the whole process (every thread) spent: CPU time, and voluntary context
/// switches — each one a thread that slept waiting for something, so one wake-up;
/// on this VM a wake-up of an idle vCPU is an IPI and a VM exit.
struct Usage {
    var cpuSeconds: Double
    var sleeps: Int

    static func now() -> Usage {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        return Usage(
            cpuSeconds: Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec)
                + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6, sleeps: u.ru_nvcsw)
    }

    static func - (a: Usage, b: Usage) -> Usage {
        Usage(cpuSeconds: a.cpuSeconds - b.cpuSeconds, sleeps: a.sleeps - b.sleeps)
    }
}

/// The yardstick: a ROUTER on its own thread that sends every REQUEST back as a
/// REPLY (same frames an `RpcServer` answers with), without decoding or validating.
final class BareEcho: @unchecked Sendable {
    let endpoint: String
    private let context: Context

    init() throws {
        context = try Context(ioThreads: 1, defaultLingerMilliseconds: 0)
        let router = try context.socket(.router)
        endpoint = try router.bindResolved("tcp://127.0.0.1:*")
        let box = Box(router)
        let headers = Array("{}".utf8)
        DedicatedThread(name: "bench-echo") {
            let router = box.value
            let poller = Poller()
            poller.add(router)
            while (try? poller.poll(timeoutMilliseconds: -1)) != nil {
                // [routing id] [version] [REQUEST] [id] [method] [deadline] [headers] [body]
                while let f = try? router.receiveMultipart(dontWait: true), f.count == 8 {
                    _ = try? router.trySend(multipart: [f[0], f[1], RpcCommand.reply.frame, f[3], headers, f[7]])
                }
            }
            router.close()
        }.start()
    }

    func stop() { context.shutdown() }
}

/// The histograms of the bare callers' threads.
final class Collected: Sendable {
    private let histograms = Mutex<[Histogram<UInt64>]>([])
    func add(_ h: Histogram<UInt64>) { histograms.withLock { $0.append(h) } }
    var all: [Histogram<UInt64>] { histograms.withLock { $0 } }
}

struct Box<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
