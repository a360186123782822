import ArgumentParser
import CBenchmarks
import Foundation
import Synchronization
import ZeroMQ

/// PUB -> SUB over TCP loopback through the Swift `ZeroMQ` wrapper, against the
/// same program written in C (`metro_cbench_pubsub`). Both run in one process
/// with a publisher thread and a subscriber thread, the same socket options and
/// the same warm-up, alternating, and the median of the rounds is reported.
struct WrapperBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wrapper",
        abstract: "PUB->SUB through the Swift wrapper vs plain C, same run."
    )

    @Option(help: "Messages per round.") var count = 1_000_000
    @Option(help: "Bytes per message.") var size = 100
    @Option(help: "Rounds of each variant (alternating; the median is reported).") var rounds = 3

    func run() throws {
        var swiftRates: [Double] = [], cRates: [Double] = []
        var swiftCPU: [Double] = [], cCPU: [Double] = []
        for round in 1...rounds {
            var cpu = processCPUSeconds()
            let c = metro_cbench_pubsub(Int32(count), Int32(size))
            guard c > 0 else { throw ValidationError("the C baseline failed") }
            cCPU.append((processCPUSeconds() - cpu) / Double(count) * 1e6)
            cpu = processCPUSeconds()
            let s = try swiftPubSub(count: count, size: size)
            swiftCPU.append((processCPUSeconds() - cpu) / Double(count) * 1e6)
            cRates.append(c)
            swiftRates.append(s)
            print("round \(round): C \(Int(c)) msg/s, Swift \(Int(s)) msg/s")
        }
        let c = median(cRates), s = median(swiftRates)
        let cc = median(cCPU), sc = median(swiftCPU)
        print("")
        print("PUB->SUB, TCP loopback, \(count) messages of \(size) bytes, median of \(rounds) rounds")
        print(
            Table.render(
                header: ["variant", "msg/s", "MB/s", "ratio to C", "CPU µs/msg (all threads)"],
                rows: [
                    [
                        "C (libzmq \(LibraryVersion.current))", fmt(c), fmt(c * Double(size) / 1e6), "1.00",
                        String(format: "%.2f", cc),
                    ],
                    [
                        "Swift ZeroMQ wrapper", fmt(s), fmt(s * Double(size) / 1e6), String(format: "%.2f", s / c),
                        String(format: "%.2f", sc),
                    ],
                ]))
    }
}

/// The Swift twin of `metro_cbench_pubsub`.
func swiftPubSub(count: Int, size: Int) throws -> Double {
    let ctx = try Context()
    let sub = try ctx.socket(.sub)
    try sub.set(.receiveHighWaterMark(0))
    try sub.subscribe("")
    let endpoint = try sub.bindResolved("tcp://127.0.0.1:*")
    let live = Atomic<Bool>(false)
    let failed = Atomic<Bool>(false)

    let done = DispatchSemaphore(value: 0)
    let publisher = Thread { [ctx] in
        defer { done.signal() }
        do {
            let pub = try ctx.socket(.pub)
            try pub.set(.sendHighWaterMark(0))
            try pub.connect(endpoint)
            var probe = [UInt8](repeating: 0, count: size)
            while !live.load(ordering: .acquiring) {
                try pub.send(probe)
                usleep(1000)
            }
            probe[0] = 1
            for _ in 0..<count { try pub.send(probe) }
        } catch {
            failed.store(true, ordering: .releasing)
        }
    }
    publisher.start()

    var message = Message()
    var received = 0
    var start = ContinuousClock.now
    while received < count {
        guard try sub.receive(into: &message) else { continue }
        let first = message.withUnsafeBytes { $0[0] }
        if first == 0 { live.store(true, ordering: .releasing); continue }
        if received == 0 { start = .now }
        received += 1
    }
    let elapsed = ContinuousClock.now - start
    done.wait()
    guard !failed.load(ordering: .acquiring) else { throw ValidationError("the Swift publisher failed") }
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    return Double(count - 1) / seconds
}

/// CPU time used by this process so far (all threads, user + system).
func processCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted[sorted.count / 2]
}

func fmt(_ value: Double) -> String {
    value >= 100 ? String(Int(value.rounded())) : String(format: "%.2f", value)
}

/// A plain-text table with aligned columns.
enum Table {
    static func render(header: [String], rows: [[String]]) -> String {
        let all = [header] + rows
        let widths = header.indices.map { i in all.map { $0[i].count }.max() ?? 0 }
        func line(_ cells: [String]) -> String {
            "| "
                + cells.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }
                .joined(separator: " | ") + " |"
        }
        let rule = "|" + widths.map { String(repeating: "-", count: $0 + 2) }.joined(separator: "|") + "|"
        return ([line(header), rule] + rows.map(line)).joined(separator: "\n")
    }
}
