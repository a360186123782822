// metro-broker-bench: the broker against libzmq's own zmq_proxy, in one run.
//
//   swift build -c release --scratch-path .build-release --product metro-broker-bench
//   swift build -c release --scratch-path .build-release --product metro
//   .build-release/release/metro-broker-bench [--events 1000000] [--rounds 3]
//
// Load comes from C loops (CProxyBaseline) so the numbers are the broker's. Each
// target (the `metro broker` binary next to this one, with its journal on, under
// the fsync policy its row names; `zmq_proxy` and the C forwarder, each in a child
// process) runs alternately; rates are medians, CPU per event is the target
// process's user+system time from /proc.
// `proxy` and `forward` as the first argument make this binary a C target: libzmq's
// zmq_proxy, or a forwarder that adds the broker's envelope frame (no journal);
// `sync-zmq` and `sync-tcp` make it one of window 1's floors (WindowOneFloors.swift).
import CProxyBaseline
import Foundation
import MetroProtocol
import ZeroMQ

#if canImport(Glibc)
    import Glibc
#endif

// A target mode runs as a child of this bench, which may itself run with signals
// blocked (a test runner's child does, and the mask survives fork and exec:
// performance.md, "Findings about Foundation's Process and daemons"). The C
// targets rely on SIGTERM's default action to stop, so they unblock every signal
// first; a target that inherited the mask ignored `Target.stop()` for its 30 s.
let targetModes: Set = ["proxy", "replay-baseline", "sync-zmq", "sync-tcp", "forward-inline", "forward"]
if let mode = CommandLine.arguments.dropFirst().first, targetModes.contains(mode) {
    var none = sigset_t()
    sigemptyset(&none)
    sigprocmask(SIG_SETMASK, &none, nil)
}
if CommandLine.arguments.dropFirst().first == "proxy" {
    exit(metro_proxy_serve("tcp://127.0.0.1:*", "tcp://127.0.0.1:*") == 0 ? 0 : 1)
}
// `replay-baseline <count> <batch-bytes>`: the replay table's baseline (ReplayBench.swift).
if CommandLine.arguments.dropFirst().first == "replay-baseline", CommandLine.arguments.count >= 4,
    let count = Int(CommandLine.arguments[2]), let batch = Int(CommandLine.arguments[3])
{
    do { try serveReplayBaseline(count: count, batchBytes: batch) } catch {
        print("replay baseline failed: \(error)")
        exit(1)
    }
}
// `sync-zmq` / `sync-tcp`: the floors under window-1 acknowledged publish (WindowOneFloors.swift).
if CommandLine.arguments.dropFirst().first == "sync-zmq" {
    let handoff: Int32 = CommandLine.arguments.dropFirst(2).first == "handoff" ? 1 : 0
    exit(metro_sync_serve_zmq(NSTemporaryDirectory(), handoff) == 0 ? 0 : 1)
}
if CommandLine.arguments.dropFirst().first == "sync-tcp" {
    exit(metro_sync_serve_tcp(NSTemporaryDirectory(), windowOneRecord) == 0 ? 0 : 1)
}
if CommandLine.arguments.dropFirst().first == "forward-inline" {
    let envelope = EventEnvelope.size(idCount: 0, headersCount: 0)
    exit(metro_forward_inline_serve("tcp://127.0.0.1:*", "tcp://127.0.0.1:*", envelope) == 0 ? 0 : 1)
}
if CommandLine.arguments.dropFirst().first == "forward" {
    let envelope = EventEnvelope.size(idCount: 0, headersCount: 0)
    exit(metro_forward_serve("tcp://127.0.0.1:*", "tcp://127.0.0.1:*", envelope) == 0 ? 0 : 1)
}

if CommandLine.arguments.contains("--help") || CommandLine.arguments.contains("-h") {
    print(usage)
    exit(0)
}
Interruption.install()

/// `--quick`: every table with small counts, in under a minute (a smoke run of
/// the bench, not figures to quote). A flag given explicitly still wins.
let quick = CommandLine.arguments.contains("--quick")
let quickCounts: [String: Int] = [
    "--events": 20_000, "--acked-events": 5_000, "--rounds": 1, "--acked-rounds": 1, "--latency-seconds": 1,
    "--latency-rounds": 1, "--latency-rate": 10_000, "--rss-events": 100_000, "--rss-acked-events": 20_000,
    "--replay-events": 100_000, "--replay-rounds": 1, "--seek-samples": 100, "--window-one-events": 200,
    "--fanout-events": 5_000, "--fanout-rounds": 1,
]

func option(_ name: String, _ fallback: Int) -> Int {
    guard let i = CommandLine.arguments.firstIndex(of: name), i + 1 < CommandLine.arguments.count else {
        return quick ? quickCounts[name] ?? fallback : fallback
    }
    return Int(CommandLine.arguments[i + 1]) ?? fallback
}

let eventCount = option("--events", 1_000_000)
/// `--only fire-and-forget|acknowledged|latency|memory` runs one part (for profiling).
let only: String? = CommandLine.arguments.firstIndex(of: "--only").flatMap {
    $0 + 1 < CommandLine.arguments.count ? CommandLine.arguments[$0 + 1] : nil
}
func wanted(_ part: String) -> Bool { only == nil || only == part }
let ackedEvents = option("--acked-events", 200_000)
let rounds = option("--rounds", 3)
let payloadSize = 100
let here = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()

// `redelivery`: the time from a member's kill -9 to the first redelivery (RedeliveryBench.swift).
if CommandLine.arguments.dropFirst().first == "redelivery" {
    do { try runRedeliveryBench() } catch {
        print("redelivery bench failed: \(error)")
        exit(1)
    }
    exit(0)
}
// `groups`: only the consumer-group table of `delivery` (issue 18, target 2).
if CommandLine.arguments.dropFirst().first == "groups" {
    do {
        let events = option("--events", 200_000)
        let broker = try Target.broker(fsync: "never")
        defer { broker.stop() }
        try preload(broker.endpoints["ingest"]!, count: events)
        try printGroupTable(broker, events: events, rounds: option("--rounds", 3))
    } catch {
        print("groups bench failed: \(error)")
        exit(1)
    }
    exit(0)
}
// `delivery`: replay and consumer-group figures instead (DeliveryBench.swift).
if CommandLine.arguments.dropFirst().first == "delivery" {
    do { try runDeliveryBench() } catch {
        print("delivery bench failed: \(error)")
        exit(1)
    }
    exit(0)
}

/// A target process that prints `ready {json}` once bound.
final class Target {
    let process = Process()
    let endpoints: [String: String]
    let dataDir: String?

    init(_ executable: URL, _ arguments: [String], dataDir: String? = nil) throws {
        Interruption.parkIfInterrupted()
        self.dataDir = dataDir
        process.executableURL = executable
        process.arguments = arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        // A broker stops by itself if this bench dies, even by -9 (SupervisorWatch).
        process.environment = ProcessInfo.processInfo.environment.merging(
            ["METRO_SUPERVISOR_PID": "\(getpid())"]) { _, new in new }
        try process.run()
        Interruption.started(pid: process.processIdentifier, dataDir: dataDir)
        var text = ""
        while !text.contains("\n") {
            let data = out.fileHandleForReading.availableData
            if data.isEmpty { break }
            text += String(decoding: data, as: UTF8.self)
        }
        Interruption.parkIfInterrupted()  // a killed target has no ready line
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("ready ") }),
            let obj = try JSONSerialization.jsonObject(with: Data(line.dropFirst(6).utf8)) as? [String: Any]
        else {
            throw NSError(domain: "bench", code: 1, userInfo: [NSLocalizedDescriptionKey: "no ready line: \(text)"])
        }
        endpoints = obj.mapValues { "\($0)" }
    }

    static func broker(fsync: String = "always") throws -> Target {
        Interruption.parkIfInterrupted()
        let dir = NSTemporaryDirectory() + "metro-bench-\(UUID().uuidString)"
        // The same per-subscriber mark as the zmq_proxy baseline (100,000
        // events), under a byte budget that allows it: the broker's default
        // derives ~950 from a 1 MiB payload limit (protocol.md §4.4.3).
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let config = dir + "/bench-broker.yaml"
        try """
        limits:
          maxPayloadBytes: 65536
          eventsHighWaterMark: 100000
          subscriberBufferBytes: 17179869184
        """.write(toFile: config, atomically: true, encoding: .utf8)
        return try Target(
            here.appendingPathComponent("metro"),
            [
                "broker", "--config", config, "--ingest", "tcp://127.0.0.1:*", "--publish", "tcp://127.0.0.1:*",
                "--events",
                "tcp://127.0.0.1:*",
                "--consume", "tcp://127.0.0.1:*", "--metrics", "", "--data-dir", dir, "--fsync", fsync, "--log-level",
                "error",
            ], dataDir: dir)
    }

    static func proxy() throws -> Target {
        try Target(URL(fileURLWithPath: CommandLine.arguments[0]), ["proxy"])
    }

    /// A C forwarder that adds the envelope frame and nothing else (no journal).
    static func forwarder() throws -> Target {
        try Target(URL(fileURLWithPath: CommandLine.arguments[0]), ["forward"])
    }

    /// The same forwarder in the two-frame form: the envelope inside the topic frame.
    static func inlineForwarder() throws -> Target {
        try Target(URL(fileURLWithPath: CommandLine.arguments[0]), ["forward-inline"])
    }

    /// User + system CPU seconds of the process so far (/proc/<pid>/stat).
    /// Resident memory from /proc, in MiB.
    var residentMiB: Double {
        guard let status = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
            let kb = Double(line.split(separator: " ")[1])
        else { return .nan }
        return kb / 1024
    }

    var cpuSeconds: Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return 0 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        let ticks = (Double(fields[11]) ?? 0) + (Double(fields[12]) ?? 0)
        return ticks / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    func stop() {
        kill(process.processIdentifier, SIGTERM)
        let deadline = Date().addingTimeInterval(30)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning {
            print("(target \(process.processIdentifier) ignored SIGTERM for 30 s: killed)")
            kill(process.processIdentifier, SIGKILL)
        }
        process.waitUntilExit()
        if let dataDir { try? FileManager.default.removeItem(atPath: dataDir) }
        Interruption.stopped(pid: process.processIdentifier)
    }
}

/// The broker's STATS (protocol.md §4.5), to report its group-commit size.
func brokerStats(_ consume: String) throws -> BrokerStats {
    let ctx = try Context(defaultLingerMilliseconds: 0)
    let s = try ctx.socket(.dealer)
    try s.set(.receiveTimeout(milliseconds: 5000))
    try s.connect(consume)
    try s.send(multipart: ConsumeCodec.requestFrames(.stats))
    guard let reply = try s.receiveMultipart(), reply.count == 3 else { throw CocoaError(.coderReadCorrupt) }
    return try JSONDecoder().decode(BrokerStats.self, from: Data(reply[2]))
}

func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }

func percentile(_ xs: [Int64], _ p: Double) -> Double {
    guard !xs.isEmpty else { return .nan }
    let sorted = xs.sorted()
    return Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]) / 1000
}

struct Run { var rate: Double; var cpuPerEvent: Double; var received: UInt64; var steal: Double }

/// The machine's CPU time so far, from /proc/stat's first line: all of it, and
/// the part "stolen" (a vCPU ready to run while the hypervisor ran something else).
func machineCPUTicks() -> (total: Double, steal: Double) {
    guard let stat = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
        let line = stat.split(separator: "\n").first
    else { return (0, 0) }
    let fields = line.split(separator: " ").dropFirst().prefix(8).map { Double($0) ?? 0 }
    guard fields.count == 8 else { return (0, 0) }
    return (fields.reduce(0, +), fields[7])
}

/// Percent of the machine's CPU time stolen between two `machineCPUTicks()`.
func stealPercent(_ a: (total: Double, steal: Double), _ b: (total: Double, steal: Double)) -> Double {
    b.total > a.total ? 100 * (b.steal - a.steal) / (b.total - a.total) : .nan
}

/// `middle` > 0 publishes a third frame of that size between topic and payload.
func throughput(_ target: Target, count: Int = eventCount, middle: Int = 0) -> Run {
    let before = target.cpuSeconds, ticks = machineCPUTicks()
    var received: UInt64 = 0
    var seconds = 0.0
    _ = metro_bench_throughput(
        target.endpoints["publish"]!, target.endpoints["events"]!, UInt64(count), payloadSize, middle,
        &received, &seconds)
    let cpu = target.cpuSeconds - before
    return Run(
        rate: Double(received) / max(seconds, 1e-9), cpuPerEvent: cpu / Double(max(received, 1)), received: received,
        steal: stealPercent(ticks, machineCPUTicks()))
}

/// `metro doctor`'s vCPU idle line: on a VM that halts idle vCPUs at once, every
/// thread wake-up is a VM exit, and latencies here double (docs/performance.md).
func vcpuIdleLine() -> String {
    let doctor = Process()
    doctor.executableURL = here.appendingPathComponent("metro")
    let folder = NSTemporaryDirectory() + "metro-bench-doctor-\(getpid())"
    defer { try? FileManager.default.removeItem(atPath: folder) }
    doctor.arguments = ["doctor", "--json", "--data-dir", folder]
    let out = Pipe()
    doctor.standardOutput = out
    doctor.standardError = FileHandle.nullDevice
    guard (try? doctor.run()) != nil else { return "unknown (no metro binary)" }
    Interruption.started(pid: doctor.processIdentifier, dataDir: folder)
    defer { Interruption.stopped(pid: doctor.processIdentifier) }
    let data = out.fileHandleForReading.readDataToEndOfFile()
    doctor.waitUntilExit()
    let checks = (try? JSONSerialization.jsonObject(with: data)) as? [[String: Any]]
    return checks?.first { $0["name"] as? String == "vcpu idle" }?["detail"] as? String ?? "unknown"
}

print(
    "metro-broker-bench: \(eventCount) events of \(payloadSize) bytes, \(rounds) alternating rounds, "
        + "libzmq \(String(cString: metro_bench_zmq_version()))\nvCPU idle: \(vcpuIdleLine())")

// 1. Fire-and-forget throughput: the broker with its journal on, fsync every 5 ms
// (the `interval` policy: "journaling on, fsync every few ms"), vs zmq_proxy; the
// other two policies for reference. Two more C rows price the frame that the
// protocol adds (§4.4: the envelope between topic and payload), apart from the
// broker: zmq_proxy carrying 3-frame events from a 3-frame publisher, and a C
// forwarder that inserts the envelope as the broker does, with no journal; a
// third prices the two-frame form (the envelope inside the topic frame).
if wanted("fire-and-forget") {
    let policies = ["interval", "always", "never"]
    let envelopeBytes = EventEnvelope.size(idCount: 0, headersCount: 0)
    var proxyRuns: [Run] = [], proxy3Runs: [Run] = [], forwardRuns: [Run] = [], inlineRuns: [Run] = []
    var brokerRuns: [String: [Run]] = [:]
    for _ in 0..<rounds {
        let p = try Target.proxy()
        proxyRuns.append(throughput(p))
        p.stop()
        let p3 = try Target.proxy()
        proxy3Runs.append(throughput(p3, middle: envelopeBytes))
        p3.stop()
        let f = try Target.forwarder()
        forwardRuns.append(throughput(f))
        f.stop()
        let fi = try Target.inlineForwarder()
        inlineRuns.append(throughput(fi))
        fi.stop()
        for policy in policies {
            let b = try Target.broker(fsync: policy)
            brokerRuns[policy, default: []].append(throughput(b))
            b.stop()
        }
    }
    let proxyRate = median(proxyRuns.map(\.rate)), forwardRate = median(forwardRuns.map(\.rate))
    print("")
    print(
        "| fire-and-forget, 100 B | events/s (median) | ratio to proxy | ratio to C forwarder | CPU µs/event (median) | received (min) | CPU steal % (min–max) |"
    )
    print("|---|---|---|---|---|---|---|")
    func row(_ label: String, _ runs: [Run]) {
        let rate = median(runs.map(\.rate))
        print(
            String(
                format: "| %@ | %.0f | %.0f%% | %.0f%% | %.2f | %llu | %.1f–%.1f |", label, rate,
                100 * rate / proxyRate,
                100 * rate / forwardRate, median(runs.map(\.cpuPerEvent)) * 1e6, runs.map(\.received).min()!,
                runs.map(\.steal).min()!, runs.map(\.steal).max()!))
    }
    row("zmq_proxy (C)", proxyRuns)
    row("zmq_proxy (C), publisher sends 3 frames (+\(envelopeBytes) B)", proxy3Runs)
    row("C forwarder adding the \(envelopeBytes) B envelope frame, no journal", forwardRuns)
    row("C forwarder, two-frame form: the envelope inside the topic frame after 0x00, no journal", inlineRuns)
    for policy in policies {
        row(
            "metro broker, journal, " + (policy == "interval" ? "fsync=interval (5 ms)" : "fsync=\(policy)"),
            brokerRuns[policy]!)
    }
}

// 2. Acknowledged publish at windows 1 and 256 (fsync=always: ACK after fdatasync).
// Every row runs `--acked-rounds` times (default 3), rows alternating, and prints
// medians: one run's rate follows that run's fdatasync times, which swing widely
// on a shared disk.
if wanted("acknowledged") {
    let ackedRounds = max(1, option("--acked-rounds", 3))
    print("")
    print(
        "| acknowledged publish, 100 B, fsync=always, median of \(ackedRounds) alternating rounds | events | events/s | CPU µs/event | ACK p50 µs | ACK p99 µs | events per fsync | mean fsync µs | events/s (min–max) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    // Window 256: one event per PUBLISH (the plain dialog), batches of up to 64
    // events per PUBLISH (§4.2.1), the same batches packed into one frame (§4.2.6,
    // PUBLISH-PACKED, what the MetroKit Publisher sends), and packed again with a
    // live subscriber taking every event (the fan-out then has work to do).
    let ackedBatch = option("--batch", 64)
    struct AckedRow {
        var window: Int
        var batch: Int
        var packed: Bool
        var count: Int
        var subscriber = false
    }
    let packedRow = AckedRow(window: 256, batch: ackedBatch, packed: true, count: ackedEvents)
    // `--packed-only` keeps the packed row alone (for profiling).
    let ackedRows: [AckedRow] =
        CommandLine.arguments.contains("--packed-only")
        ? [packedRow]
        : CommandLine.arguments.contains("--batched-only")
            ? [AckedRow(window: 256, batch: ackedBatch, packed: false, count: ackedEvents), packedRow]
            : [
                AckedRow(window: 1, batch: 1, packed: false, count: option("--window-one-events", 2_000)),
                AckedRow(window: 256, batch: 1, packed: false, count: ackedEvents),
                AckedRow(window: 256, batch: ackedBatch, packed: false, count: ackedEvents), packedRow,
                AckedRow(window: 256, batch: ackedBatch, packed: true, count: ackedEvents, subscriber: true),
            ]
    struct AckedRun {
        var complete: Bool
        var rate: Double
        var cpu: Double
        var p50: Double
        var p99: Double
        var perFsync: Double
        var fsyncMicros: Double
        var delivered: UInt64
        var steal: Double
    }
    var ackedRuns = [[AckedRun]](repeating: [], count: ackedRows.count)
    var diskRuns: [DiskRun] = []
    var floorRuns: [FloorRun] = []
    for _ in 0..<ackedRounds {
        for (index, row) in ackedRows.enumerated() {
            // The disk's limit right before the window-1 row, in each round (target 7).
            if row.window == 1 {
                diskRuns.append(diskLimit())
                floorRuns.append(try windowOneFloors(count: row.count))
            }
            let b = try Target.broker()
            let ticks = machineCPUTicks()
            var latencies = [Int64](repeating: 0, count: row.count)
            var seconds = 0.0
            var delivered: UInt64 = 0
            let before = b.cpuSeconds
            let rc = metro_bench_acked(
                b.endpoints["ingest"]!, 0, UInt64(row.count), Int32(row.window), Int32(row.batch), row.packed ? 1 : 0,
                0,
                payloadSize, &seconds, &latencies, row.subscriber ? b.endpoints["events"]! : nil, &delivered)
            let cpu = b.cpuSeconds - before
            let stats = try? brokerStats(b.endpoints["consume"]!)
            let fsyncs = stats?.fsyncs ?? 0
            b.stop()
            ackedRuns[index].append(
                AckedRun(
                    complete: rc == 0, rate: Double(row.count) / seconds, cpu: cpu / Double(row.count) * 1e6,
                    p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99),
                    perFsync: Double(row.count) / Double(max(fsyncs, 1)),
                    fsyncMicros: Double(stats?.fsyncNanoseconds ?? 0) / 1000 / Double(max(fsyncs, 1)),
                    delivered: delivered, steal: stealPercent(ticks, machineCPUTicks())))
        }
    }
    for (index, row) in ackedRows.enumerated() {
        let runs = ackedRuns[index]
        var label =
            row.batch == 1
            ? "1 event per PUBLISH"
            : row.packed ? "batches of \(row.batch) per PUBLISH-PACKED" : "batches of \(row.batch) per PUBLISH"
        if row.subscriber { label += ", a live subscriber got \(runs.map(\.delivered).min()!) (min)" }
        print(
            String(
                format: "| window %d, %@%@ | %d | %.0f | %.2f | %.0f | %.0f | %.1f | %.0f | %.0f–%.0f |", row.window,
                label,
                runs.allSatisfy(\.complete) ? "" : " (incomplete)", row.count, median(runs.map(\.rate)),
                median(runs.map(\.cpu)), median(runs.map(\.p50)), median(runs.map(\.p99)), median(runs.map(\.perFsync)),
                median(runs.map(\.fsyncMicros)), runs.map(\.rate).min()!, runs.map(\.rate).max()!))
    }
    if let one = ackedRows.firstIndex(where: { $0.window == 1 }) {
        let runs = ackedRuns[one]
        printWindowOneTable(
            rates: runs.map(\.rate), cpu: runs.map(\.cpu), steal: runs.map(\.steal), disk: diskRuns)
        printFloorTable(
            broker: runs.map { FloorRun.Row(rate: $0.rate, p50: $0.p50, cpu: $0.cpu) }, floors: floorRuns,
            disk: diskRuns)
    }

}

// 3. Publish-to-delivery latency at 10,000 and 50,000 events/s: a C publisher
// stamps each payload with CLOCK_MONOTONIC, a C subscriber on the same machine
// subtracts. zmq_proxy is the baseline; the broker runs with its journal under
// the policy each row names. The acknowledged rows time publish-to-ACK instead
// (the ACK waits for the fsync; delivery to subscribers does not).
if wanted("latency") {
    let seconds = option("--latency-seconds", 5)
    let latencyRounds = option("--latency-rounds", 3)
    print("")
    print(
        "| latency, 100 B, \(seconds) s per row, median of \(latencyRounds) alternating rounds | rate/s | p50 µs | p99 µs | p99.9 µs | max µs | received (min) | to the broker's stamp p50 / p99 µs | CPU steal % (min–max) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    let targets: [(String, () throws -> Target)] = [
        ("zmq_proxy (baseline), publish→delivery", { try Target.proxy() }),
        // The broker's frames at the least cost: what the wire format adds by itself.
        ("C forwarder adding the envelope, no journal, publish→delivery", { try Target.forwarder() }),
        ("broker fsync=interval (5 ms), publish→delivery", { try Target.broker(fsync: "interval") }),
        // No syncer at all: what forwarding and the journal's writes cost alone.
        ("broker fsync=never, publish→delivery", { try Target.broker(fsync: "never") }),
        ("broker fsync=always, publish→delivery", { try Target.broker(fsync: "always") }),
        ("broker fsync=always, acknowledged window 256, publish→ACK", { try Target.broker(fsync: "always") }),
    ]
    /// One row's round: percentiles of the whole latency, and of its first part
    /// (publish until the broker's loop stamped the event; nil without a stamp).
    struct LatencyRound {
        var p50, p99, p999, max: Double
        var received: UInt64
        var toBroker: (p50: Double, p99: Double)?
        var steal: Double
    }
    let rates = option("--latency-rate", 0) > 0 ? [option("--latency-rate", 0)] : [10_000, 50_000]
    for rate in rates {
        var results = [[LatencyRound]](repeating: [], count: targets.count)
        for _ in 0..<latencyRounds {
            for (i, (name, start)) in targets.enumerated() {
                let count = rate * seconds
                let t = try start()
                var latencies = [Int64](repeating: 0, count: count)
                var toBroker = [Int64](repeating: -1, count: count)
                var received = UInt64(count)
                let ticks = machineCPUTicks()
                if name.contains("ACK") {
                    var elapsed = 0.0
                    let rc = metro_bench_acked(
                        t.endpoints["ingest"]!, 0, UInt64(count), 256, 1, 0, UInt64(rate), payloadSize, &elapsed,
                        &latencies, nil, nil)
                    if rc != 0 { received = 0 }
                } else {
                    _ = metro_bench_latency(
                        t.endpoints["publish"]!, t.endpoints["events"]!, UInt64(count), UInt64(rate),
                        payloadSize, &latencies, &toBroker, &received)
                }
                let steal = stealPercent(ticks, machineCPUTicks())
                t.stop()
                let got = Array(latencies.prefix(Int(received)))
                let stamped = toBroker.prefix(Int(received)).filter { $0 >= 0 }
                results[i].append(
                    LatencyRound(
                        p50: percentile(got, 0.5), p99: percentile(got, 0.99), p999: percentile(got, 0.999),
                        max: percentile(got, 1.0), received: received,
                        toBroker: stamped.isEmpty ? nil : (percentile(stamped, 0.5), percentile(stamped, 0.99)),
                        steal: steal))
            }
        }
        for (i, (name, _)) in targets.enumerated() {
            let r = results[i]
            let parts = r.compactMap(\.toBroker)
            let split =
                parts.isEmpty
                ? "–" : String(format: "%.0f / %.0f", median(parts.map(\.p50)), median(parts.map(\.p99)))
            print(
                String(
                    format: "| %@ | %d | %.0f | %.0f | %.0f | %.0f | %llu | %@ | %.1f–%.1f |", name, rate,
                    median(r.map(\.p50)), median(r.map(\.p99)), median(r.map(\.p999)), median(r.map(\.max)),
                    r.map(\.received).min()!, split, r.map(\.steal).min()!, r.map(\.steal).max()!))
        }
        printLatencyTargetRounds(
            rate: rate, proxy: results[0].map { ($0.p50, $0.p99, $0.steal) },
            broker: results[2].map { ($0.p50, $0.p99, $0.steal) })
    }
}

/// Issue 18 target 6, judged the way a shared machine allows: each alternating
/// round's zmq_proxy row beside the broker's (fsync=interval) row, with both
/// rows' steal; the p99 target counts only in rounds where both stayed under 2%.
func printLatencyTargetRounds(
    rate: Int, proxy: [(p50: Double, p99: Double, steal: Double)], broker: [(p50: Double, p99: Double, steal: Double)]
) {
    print("")
    print(
        "| target 6 at \(rate)/s, round | proxy p50 / p99 µs | broker p50 / p99 µs | broker p50 − proxy p50 µs (≤ +50) | broker p99 ÷ proxy p99 (≤ 1.2) | steal % proxy / broker | judged |"
    )
    print("|---|---|---|---|---|---|---|")
    for (k, (p, b)) in zip(proxy, broker).enumerated() {
        let quiet = p.steal < 2 && b.steal < 2
        let p50ok = b.p50 - p.p50 <= 50, p99ok = b.p99 / max(p.p99, 1e-9) <= 1.2
        let verdict =
            quiet
            ? "p50 \(p50ok ? "met" : "missed"), p99 \(p99ok ? "met" : "missed")"
            : "p50 \(p50ok ? "met" : "missed"), p99 not judged (steal ≥ 2%)"
        print(
            String(
                format: "| %d | %.0f / %.0f | %.0f / %.0f | %+.0f | %.2f | %.1f / %.1f | %@ |", k + 1, p.p50, p.p99,
                b.p50, b.p99, b.p50 - p.p50, b.p99 / max(p.p99, 1e-9), p.steal, b.steal, verdict))
    }
}

// 4. The broker's resident memory while its journal grows: it must stay flat
// (the journal is on disk, the dedupe window and queues are bounded).
/// Publishes `total` events in `steps` calls of `publish(done, step)` and prints
/// the broker's RSS after each.
func residentMemory(_ title: String, _ target: Target, total: Int, steps: Int, publish: (UInt64, Int) -> Void) {
    let step = max(total / steps, 1)
    var rows: [(UInt64, Double)] = [(0, target.residentMiB)]
    var done: UInt64 = 0
    while done < UInt64(total) {
        publish(done, step)
        done += UInt64(step)
        rows.append((done, target.residentMiB))
    }
    target.stop()
    print("")
    print("| \(title) | events published | RSS MiB |")
    print("|---|---|---|")
    for (n, rss) in rows { print(String(format: "| | %llu | %.1f |", n, rss)) }
}

let rssEvents = option("--rss-events", 10_000_000)
if wanted("memory") && rssEvents > 0 {
    let b = try Target.broker(fsync: "interval")
    residentMemory("broker RSS, fire-and-forget 100 B, fsync=interval", b, total: rssEvents, steps: 10) { _, step in
        _ = throughput(b, count: step)
    }
    // Acknowledged events carry ids: the dedupe window (protocol.md §4.2.3) grows
    // until it holds `dedupe.maxEntries` (10^6 by default) ids, then stays flat.
    let ackedRSSEvents = option("--rss-acked-events", 3_000_000)
    if ackedRSSEvents > 0 {
        let a = try Target.broker(fsync: "always")
        residentMemory(
            "broker RSS, acknowledged 100 B in packed batches of 64, fsync=always", a, total: ackedRSSEvents, steps: 6
        ) { done, step in
            var seconds = 0.0
            _ = metro_bench_acked(
                a.endpoints["ingest"]!, done, UInt64(step), 256, 64, 1, 0, payloadSize, &seconds, nil, nil, nil)
        }
    }
}

// 5. Replay (ReplayBench.swift): per-event and packed, against the same bytes sent
// from memory over the same socket pair; and the seek.
if wanted("replay") {
    try runReplayBench()
}

// 6. Fan-out by subscribers and by topics (FanoutBench.swift).
if wanted("fan-out") {
    try runFanoutBench()
}

// 7. With `--quick`, the delivery tables too (DeliveryBench.swift; in a full run
// they are the `delivery` subcommand, which takes minutes).
if quick && wanted("delivery") {
    print("")
    try runDeliveryBench()
}
