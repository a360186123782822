// Replay (issue 18, target 1; protocol.md §4.9, §4.9.2): events/s from a journal
// of `--replay-events` (default 2,000,000) events of 100 B to one raw DEALER
// client with credit, per-event (EVENT) and packed (EVENT-PACKED), against a
// baseline that sends the same bytes from memory over the same ROUTER→DEALER pair
// (this binary as `replay-baseline`, a child process like the broker); rows
// alternate, each prints its CPU steal. Then the seek: REPLAY from a random seq
// until its first event, p50 and p99.
import CProxyBaseline
import Foundation
import MetroProtocol
import ZeroMQ

#if canImport(Glibc)
    import Glibc
#endif

/// The client's credit window in events (it grants half a window at a time).
let replayWindow: UInt32 = 50_000

/// The journal records the C loader writes (`metro_bench_acked`, packed): ids
/// `b<n>`, topic `bench.acked`, no headers, `payloadSize` zero bytes; seqs from 1.
func baselineRecords(count: Int) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(count * (JournalRecord.headerBytes + 24 + payloadSize))
    let payload = [UInt8](repeating: 0, count: payloadSize), topic = Array("bench.acked".utf8)
    let time = UInt64(Date().timeIntervalSince1970 * 1e9)
    for i in 0..<count {
        out +=
            JournalRecord(
                seq: UInt64(i + 1), time: time, eventID: Array("b\(i)".utf8), topic: topic, headers: [],
                payload: payload
            ).encoded
    }
    return out
}

/// `replay-baseline <count> <batch-bytes>`: a ROUTER that answers one REPLAY-PACKED
/// at a time with `count` records built in memory before it binds, in frames of up
/// to `batch-bytes`, under the client's credit, then CAUGHT-UP: what the broker's
/// packed replay does, without a journal.
func serveReplayBaseline(count: Int, batchBytes: Int) throws -> Never {
    let records = baselineRecords(count: count)
    // Frame boundaries, as the broker cuts them (whole records up to batch-bytes).
    var frames: [(range: Range<Int>, events: Int)] = []
    var at = 0, start = 0, events = 0
    while at < records.count {
        let size = 8 + (Int(records[at]) | (Int(records[at + 1]) << 8) | (Int(records[at + 2]) << 16))
        if events > 0 && at + size - start > batchBytes {
            frames.append((start..<at, events))
            start = at
            events = 0
        }
        at += size
        events += 1
    }
    if events > 0 { frames.append((start..<at, events)) }
    let bodies = frames.map { (Array(records[$0.range]), $0.events) }
    let ctx = try Context(defaultLingerMilliseconds: 0)
    let s = try ctx.socket(.router)
    try s.set(.routerMandatory(true))
    let endpoint = try s.bindResolved("tcp://127.0.0.1:*")
    print("ready {\"consume\":\"\(endpoint)\"}")
    fflush(nil)  // every stream: the ready line must leave now
    while true {
        guard let request = try s.receiveMultipart(), request.count >= 9 else { continue }
        let routing = request[0], id = request[3]
        var credit = UInt64(BigEndian.uint32(request[7]) ?? 0)
        func take(_ m: [[UInt8]]) {
            if m.count == 5, m[2] == ReplayCodec.creditCommand { credit += UInt64(BigEndian.uint32(m[4]) ?? 0) }
        }
        for (body, n) in bodies {
            while credit < UInt64(n) { if let m = try s.receiveMultipart() { take(m) } }
            try s.send(multipart: [routing, WireProtocol.versionBytes, ReplayCodec.packedEventsCommand, id, body])
            credit -= UInt64(n)
            while let m = try s.receiveMultipart(dontWait: true) { take(m) }
        }
        try s.send(multipart: [
            routing, WireProtocol.versionBytes, ReplayCodec.caughtUpCommand, id, BigEndian.bytes(UInt64(count)),
        ])
    }
}

struct ReplayRun {
    var rate: Double
    var events: Int
    /// The client thread's CPU per event (µs).
    var clientMicros: Double
    var steal: Double
}

/// One replay of everything from seq 0 to a raw DEALER client; `batchBytes` nil
/// asks for the per-event form. The client reads each record's length and seq, as
/// a real one would, and grants half a window at a time.
func replayRun(_ consume: String, batchBytes: UInt32?) throws -> ReplayRun {
    let ctx = try Context(defaultLingerMilliseconds: 0)
    let s = try ctx.socket(.dealer)
    defer { s.close() }
    try s.set(.receiveTimeout(milliseconds: 10_000))
    try s.connect(consume)
    let id = Array("bench".utf8)
    let ticks = machineCPUTicks(), cpu = threadCPUSeconds()
    let start = ContinuousClock.now
    try s.send(
        multipart: ReplayCodec.Request(id: id, start: .seq(0), credit: replayWindow, packing: batchBytes).frames)
    var n = 0, consumed = 0, lastSeq: UInt64 = 0
    let half = Int(replayWindow / 2)
    while let frames = try s.receiveMultipart() {
        if frames[1] == ReplayCodec.packedEventsCommand {
            frames[3].withUnsafeBytes { raw in
                var at = 0
                while at + JournalRecord.headerBytes <= raw.count {
                    let length = Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt32.self)))
                    lastSeq = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: at + 8, as: UInt64.self))
                    at += 8 + length
                    n += 1
                    consumed += 1
                }
            }
        } else if frames[1] == ReplayCodec.eventCommand {
            n += 1
            consumed += 1
        } else {
            break
        }
        while consumed >= half {
            try s.send(multipart: ReplayCodec.creditFrames(id: id, credit: UInt32(half)))
            consumed -= half
        }
    }
    let d = ContinuousClock.now - start
    let seconds = Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    _ = lastSeq
    return ReplayRun(
        rate: Double(n) / seconds, events: n, clientMicros: (threadCPUSeconds() - cpu) / Double(max(n, 1)) * 1e6,
        steal: stealPercent(ticks, machineCPUTicks()))
}

/// The calling thread's CPU time (user + system), seconds.
func threadCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Microseconds from sending a REPLAY (credit 1, from a random seq to that seq)
/// to its first event, `samples` times on one connection.
func seekLatencies(_ consume: String, head: UInt64, samples: Int, packed: Bool) throws -> [Int64] {
    let ctx = try Context(defaultLingerMilliseconds: 0)
    let s = try ctx.socket(.dealer)
    defer { s.close() }
    try s.set(.receiveTimeout(milliseconds: 5_000))
    try s.connect(consume)
    var rng = SystemRandomNumberGenerator()
    var out: [Int64] = []
    for i in 0..<samples {
        let seq = UInt64.random(in: 1...head, using: &rng)
        let id = Array("seek-\(i)".utf8)
        let t0 = ContinuousClock.now
        try s.send(
            multipart: ReplayCodec.Request(id: id, start: .seq(seq), toSeq: seq, credit: 1, packing: packed ? 0 : nil)
                .frames)
        guard let first = try s.receiveMultipart() else { throw CocoaError(.coderReadCorrupt) }
        let d = ContinuousClock.now - t0
        guard first[1] == ReplayCodec.eventCommand || first[1] == ReplayCodec.packedEventsCommand else {
            throw NSError(domain: "bench", code: 2, userInfo: [NSLocalizedDescriptionKey: "seek got \(first[1])"])
        }
        out.append(d.components.seconds * 1_000_000_000 + d.components.attoseconds / 1_000_000_000)
        _ = try s.receiveMultipart()  // CAUGHT-UP
    }
    return out
}

@MainActor func runReplayBench() throws {
    let count = option("--replay-events", 2_000_000)
    let replayRounds = max(1, option("--replay-rounds", 3))
    let batch = option("--replay-batch", ReplayCodec.defaultBatchBytes)
    let broker = try Target.broker(fsync: "never")
    defer { broker.stop() }
    var loadSeconds = 0.0
    let rc = metro_bench_acked(
        broker.endpoints["ingest"]!, 0, UInt64(count), 256, 64, 1, 0, payloadSize, &loadSeconds, nil, nil, nil)
    guard rc == 0 else { throw NSError(domain: "bench", code: 3, userInfo: [NSLocalizedDescriptionKey: "load"]) }
    let baseline = try Target(
        URL(fileURLWithPath: CommandLine.arguments[0]), ["replay-baseline", "\(count)", "\(batch)"])
    defer { baseline.stop() }
    let consume = broker.endpoints["consume"]!
    var perEvent: [ReplayRun] = [], packed: [ReplayRun] = [], memory: [ReplayRun] = []
    for _ in 0..<replayRounds {
        memory.append(try replayRun(baseline.endpoints["consume"]!, batchBytes: UInt32(batch)))
        packed.append(try replayRun(consume, batchBytes: UInt32(batch)))
        perEvent.append(try replayRun(consume, batchBytes: nil))
    }
    let base = median(memory.map(\.rate))
    print("")
    print(
        "| replay, \(count) journaled events of \(payloadSize) B, 1 client, credit window \(replayWindow), \(replayRounds) alternating rounds | events/s (median) | ratio to baseline | client CPU µs/event | events (min) | CPU steal % (min–max) | events/s (min–max) |"
    )
    print("|---|---|---|---|---|---|---|")
    func row(_ label: String, _ runs: [ReplayRun]) {
        let rate = median(runs.map(\.rate))
        print(
            String(
                format: "| %@ | %.0f | %.2f | %.2f | %d | %.1f–%.1f | %.0f–%.0f |", label, rate, rate / base,
                median(runs.map(\.clientMicros)), runs.map(\.events).min()!, runs.map(\.steal).min()!,
                runs.map(\.steal).max()!, runs.map(\.rate).min()!, runs.map(\.rate).max()!))
    }
    row("baseline: the same records from memory, EVENT-PACKED frames of \(batch) B, same ROUTER→DEALER pair", memory)
    row("broker, REPLAY-PACKED (§4.9.2), batch-bytes \(batch)", packed)
    row("broker, REPLAY, one EVENT per event (§4.9)", perEvent)
    let samples = option("--seek-samples", 500)
    let perEventSeek = try seekLatencies(consume, head: UInt64(count), samples: samples, packed: false)
    let packedSeek = try seekLatencies(consume, head: UInt64(count), samples: samples, packed: true)
    print("")
    print("| seek: REPLAY from a random seq to its first event, \(samples) samples | p50 µs | p99 µs |")
    print("|---|---|---|")
    print(String(format: "| REPLAY | %.0f | %.0f |", percentile(perEventSeek, 0.5), percentile(perEventSeek, 0.99)))
    print(
        String(format: "| REPLAY-PACKED | %.0f | %.0f |", percentile(packedSeek, 0.5), percentile(packedSeek, 0.99)))
}
