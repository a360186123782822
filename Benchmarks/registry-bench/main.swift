// metro-registry-bench: LOOKUP round trips per second and latency percentiles, with
// 1 and 4 concurrent REQ clients, against an in-process registry (or --endpoint).
//
//   swift build -c release --scratch-path .build-release --product metro-registry-bench
//   .build-release/release/metro-registry-bench
import ArgumentParser
import Foundation
import Histogram
import Logging
import MetroProtocol
import MetroRegistry
import Synchronization
import ZeroMQ

@main
struct RegistryBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metro-registry-bench", abstract: "LOOKUP throughput and latency of the Metro registry.")

    @Option(help: "An external registry to measure; default: start one in this process.")
    var endpoint: String?

    @Option(help: "Client counts to measure, comma-separated.")
    var clients = "1,4"

    @Option(help: "Seconds per run.")
    var seconds = 3.0

    @Option(help: "Instances registered under the looked-up service.")
    var instances = 5

    @Flag(inversion: .prefixedNo, help: "Also measure a bare ROUTER echo loop (the transport's ceiling here).")
    var baseline = true

    func run() throws {
        var server: RegistryServer?
        var target = endpoint ?? ""
        if endpoint == nil {
            let s = try RegistryServer(
                configuration: .init(endpoint: "tcp://127.0.0.1:*"), logger: Logger(label: "bench"))
            Task { await s.run() }
            server = s
            target = s.endpoint
        }
        let echo = baseline ? try EchoServer() : nil
        let context = try Context()
        try seed(context: context, endpoint: target)
        print(
            "registry \(target), \(instances) instances of 'bench', \(seconds) s per run, \(ProcessInfo.processInfo.activeProcessorCount) cores"
        )
        print("server         clients  lookups/s  p50 µs  p99 µs  p99.9 µs  max µs")
        for n in clients.split(separator: ",").compactMap({ Int($0) }) {
            var targets = [("registry", target)]
            if let echo { targets.append(("ROUTER echo", echo.endpoint)) }
            for (name, ep) in targets {
                let r = try measure(context: context, endpoint: ep, clients: n)
                print(
                    name.padding(toLength: 15, withPad: " ", startingAt: 0)
                        + String(n).padding(toLength: 9, withPad: " ", startingAt: 0)
                        + String(format: "%9.0f  %6.0f  %6.0f  %8.0f  %6.0f", r.rate, r.p50, r.p99, r.p999, r.max))
            }
        }
        server?.stop()
        echo?.stop()
    }

    private func seed(context: Context, endpoint: String) throws {
        let req = try context.socket(.req)
        try req.connect(endpoint)
        for i in 0..<instances {
            let r = Registration(
                service: "bench", instance: "bench-\(i)", epoch: 1, endpoints: ["tcp://127.0.0.1:\(20000 + i)"],
                metadata: ["version": "1.0.0", "zone": "a"], ttlMilliseconds: 600_000)
            try req.send(multipart: RegistryRequest.register(r).encode())
            guard let reply = try req.receiveMultipart(), case .success(.ok) = RegistryReply.decode(reply) else {
                throw ValidationError("REGISTER failed")
            }
        }
    }

    struct Result { var rate, p50, p99, p999, max: Double }

    private func measure(context: Context, endpoint: String, clients: Int) throws -> Result {
        let histograms = Mutex<[Histogram<UInt64>]>([])
        let counts = Atomic<Int>(0)
        let request = RegistryRequest.lookup(service: "bench").encode()
        let start = DispatchSemaphore(value: 0)
        let done = DispatchGroup()
        let duration = seconds
        for _ in 0..<clients {
            done.enter()
            Thread {
                defer { done.leave() }
                var h = Histogram<UInt64>(highestTrackableValue: 10_000_000_000, numberOfSignificantValueDigits: .three)
                // Each client has its own context (own I/O thread), as separate processes would.
                guard let ctx = try? Context(ioThreads: 1, defaultLingerMilliseconds: 0),
                    let req = try? ctx.socket(.req), (try? req.connect(endpoint)) != nil
                else { return }
                // Warm up the connection before the clock starts.
                _ = try? req.send(multipart: request)
                _ = try? req.receiveMultipart()
                start.wait()
                let end = ContinuousClock.now + .milliseconds(Int(duration * 1000))
                var n = 0
                while true {
                    let t0 = ContinuousClock.now
                    if t0 >= end { break }
                    guard (try? req.send(multipart: request)) != nil, let reply = try? req.receiveMultipart(),
                        reply.count == 3
                    else { return }
                    let d = ContinuousClock.now - t0
                    _ = h.record(
                        UInt64(d.components.attoseconds / 1_000_000_000) + UInt64(d.components.seconds) * 1_000_000_000)
                    n += 1
                }
                counts.add(n, ordering: .relaxed)
                histograms.withLock { $0.append(h) }
            }.start()
        }
        usleep(200_000)  // let the client threads connect and warm up
        for _ in 0..<clients { start.signal() }
        done.wait()
        var all = Histogram<UInt64>(highestTrackableValue: 10_000_000_000, numberOfSignificantValueDigits: .three)
        histograms.withLock { for h in $0 { all.add(h) } }
        let total = counts.load(ordering: .relaxed)
        return Result(
            rate: Double(total) / duration, p50: Double(all.valueAtPercentile(50)) / 1000,
            p99: Double(all.valueAtPercentile(99)) / 1000, p999: Double(all.valueAtPercentile(99.9)) / 1000,
            max: Double(all.max) / 1000)
    }
}

/// The yardstick: a ROUTER loop on its own thread that answers every request with a
/// fixed LOOKUP-sized reply, without decoding. Same sockets and options as the registry.
final class EchoServer: @unchecked Sendable {
    let endpoint: String
    private let context: Context

    init() throws {
        context = try Context(ioThreads: 1, defaultLingerMilliseconds: 0)
        let router = try context.socket(.router)
        endpoint = try router.bindResolved("tcp://127.0.0.1:*")
        let reply = RegistryReply.ok(LookupResult(service: "bench", instances: [])).encode()
        let box = Box(router)
        Thread {
            let router = box.value
            let poller = Poller()
            poller.add(router)
            while (try? poller.poll(timeoutMilliseconds: -1)) != nil {
                while let frames = try? router.receiveMultipart(dontWait: true) {
                    _ = try? router.trySend(multipart: Array(frames.prefix(2)) + reply)
                }
            }
            router.close()
        }.start()
    }

    func stop() { context.shutdown() }
}

struct Box<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
