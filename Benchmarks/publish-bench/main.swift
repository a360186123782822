// metro-publish-bench: the acknowledged-publish rate of MetroKit's `Publisher`
// against a running broker, for comparing client changes (run the old and the new
// client against the same broker, alternating; the machine's rates swing ±20%).
//
//   swift build -c release --scratch-path .build-release --product metro-publish-bench
//   metro broker --ingest tcp://127.0.0.1:7801 ... --config <fsync: never>
//   .build-release/release/metro-publish-bench tcp://127.0.0.1:7801 200000 512
//
// Arguments: ingest endpoint, events, concurrent publishing tasks, and for a broker
// with CURVE on (protocol.md §7) the client's secret key file and the broker's
// public key file. Prints one line: events, seconds, events/s, and this process's
// CPU time per event.
import Foundation
import MetroKit
import ZeroMQ

let args = CommandLine.arguments
guard args.count >= 2 else {
    print("usage: metro-publish-bench <ingest-endpoint> [events=200000] [tasks=512] [client.key broker.pub]")
    exit(2)
}
let ingest = args[1]
let total = args.count > 2 ? Int(args[2])! : 200_000
let tasks = args.count > 3 ? Int(args[3])! : 512
let payload = [UInt8](repeating: 0x61, count: 100)

func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
        + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

var options = Publisher.Options(ingest: ingest)
if args.count > 5 {
    func key(_ path: String) throws -> String {
        try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    }
    options.curve = CurveCredentials(
        keys: try CurveKeyPair(secretKey: try key(args[4])), serverPublicKey: try key(args[5]))
}
let publisher = try Publisher(options)
_ = try await publisher.publish(topic: "bench.warmup", payload: payload)
let cpu0 = cpuSeconds()
let start = ContinuousClock.now
try await withThrowingTaskGroup(of: Void.self) { group in
    for t in 0..<tasks {
        group.addTask {
            var i = t
            while i < total {
                _ = try await publisher.publish(topic: "bench.a", payload: payload)
                i += tasks
            }
        }
    }
    try await group.waitForAll()
}
let elapsed = ContinuousClock.now - start
let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
let cpu = cpuSeconds() - cpu0
await publisher.close()
print(
    String(
        format: "events %d  seconds %.3f  events/s %.0f  client CPU µs/event %.2f", total, seconds,
        Double(total) / seconds, cpu / Double(total) * 1e6))
