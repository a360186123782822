//   swift build -c release --scratch-path .build-release --product metro-broker-bench
//   swift build -c release --scratch-path .build-release --product metro
//   .build-release/release/metro-broker-bench delivery [--events 200000] [--rounds 3]
//
// The delivery figures: replay and
// consumer-group figures (protocol.md §4.9, §4.10), against the `metro` binary next
// to this one (journal fsync=never, so the figures are the delivery path's, not
// the disk's). Raw DEALER clients, one thread each, as a foreign client would be.
//
// The group table (`printGroupTable`, also `metro-broker-bench groups`) runs 1, 2,
// 4 and 8 members per event and packed (§4.10.2), alternating. Measured
// 2026-12-02 on a quiet 2-core machine, 1M events: packed ~1M deliveries/s with
// 1-8 members at ~1 µs of broker CPU each, per event ~200k at 5-6 µs
// (docs/performance.md, "Consumer groups"). Redelivery after a member dies:
// RedeliveryBench.swift (p50 ~50 ms since the broker watches connections close).
import Foundation
import MetroProtocol
import ZeroMQ

/// Loads `count` acknowledged events (topic "bench.x", 100-byte payload), 1,000 in flight.
func preload(_ ingest: String, count: Int) throws {
    let ctx = try Context(defaultLingerMilliseconds: 0)
    let s = try ctx.socket(.dealer)
    defer { s.close() }
    try s.set(.receiveTimeout(milliseconds: 10_000))
    try s.connect(ingest)
    let payload = [UInt8](repeating: 0x61, count: 100)
    var sent = 0, acked = 0
    while acked < count {
        while sent < count && sent - acked < 1000 {
            try s.send(
                multipart: IngestCodec.Publish(eventID: Array("p\(sent)".utf8), topic: "bench.x", payload: payload)
                    .frames)
            sent += 1
        }
        guard try s.receiveMultipart() != nil else { throw CocoaError(.coderReadCorrupt) }
        acked += 1
    }
}

/// One replay of everything from seq 0, credit window 10,000; events/s to the client.
func replayRate(_ consume: String) throws -> (rate: Double, events: Int) {
    let ctx = try Context(defaultLingerMilliseconds: 0)
    let s = try ctx.socket(.dealer)
    defer { s.close() }
    try s.set(.receiveTimeout(milliseconds: 10_000))
    try s.connect(consume)
    let window: UInt32 = 10_000
    let start = ContinuousClock.now
    try s.send(multipart: ReplayCodec.Request(id: Array("bench".utf8), start: .seq(0), credit: window).frames)
    var n = 0
    while let frames = try s.receiveMultipart() {
        if frames[1] == ReplayCodec.eventCommand {
            n += 1
            if n % Int(window / 2) == 0 {
                try s.send(multipart: ReplayCodec.creditFrames(id: Array("bench".utf8), credit: window / 2))
            }
        } else {
            break
        }
    }
    let seconds =
        Double((ContinuousClock.now - start).components.attoseconds) / 1e18
        + Double((ContinuousClock.now - start).components.seconds)
    return (Double(n) / seconds, n)
}

/// A group member on its own thread: joins with `credit`, ACKs and re-grants every
/// delivery; counts into `total`. Stops when `total` reaches `target`. `packed`:
/// JOIN asks for DELIVER-PACKED and each batch of receives is answered with one
/// ACKS carrying its credit (protocol.md §4.10.2), the deliveries decoded as
/// MetroKit decodes them; otherwise an ACK per DELIVER and one GRANT per batch.
final class BenchMember: @unchecked Sendable {
    let thread: Thread
    let done = DispatchSemaphore(value: 0)

    init(consume: String, group: String, total: Counter, target: Int, credit: UInt32 = 1000, packed: Bool = false) {
        thread = Thread { [done] in
            defer { done.signal() }
            guard let ctx = try? Context(defaultLingerMilliseconds: 0), let s = try? ctx.socket(.dealer) else { return }
            defer { s.close() }
            try? s.set(.receiveTimeout(milliseconds: 200))
            try? s.connect(consume)
            let join = GroupCodec.Request.join(
                group: group, member: "bench", credit: credit,
                config: .init(prefixes: ["bench."], start: .earliest, batchBytes: packed ? 0 : nil))
            try? s.send(multipart: join.frames)
            let deliver = Array("DELIVER".utf8), deliverPacked = Array("DELIVER-PACKED".utf8)
            while total.value < target {
                guard let frames = try? s.receiveMultipart() else { continue }
                var grants: UInt32 = 0
                var seqs: [UInt64] = []
                var batch = [frames]
                while let more = try? s.receiveMultipart(dontWait: true) { batch.append(more) }
                for f in batch where f.count > 4 {
                    if f[1] == deliverPacked, let ds = PackedDelivery(attempts: f[3], records: f[4]).deliveries() {
                        seqs += ds.map(\.seq)
                    } else if f[1] == deliver {
                        try? s.send(multipart: [f[0], Array("ACK".utf8), f[2], f[3]])
                        grants += 1
                    }
                }
                if !seqs.isEmpty {
                    let acks = GroupCodec.Request.acks(group: group, credit: UInt32(seqs.count), seqs: seqs)
                    try? s.send(multipart: acks.frames)
                    total.add(seqs.count)
                } else if grants > 0 {
                    try? s.send(multipart: GroupCodec.Request.grant(group: group, credit: grants).frames)
                    total.add(Int(grants))
                }
            }
            try? s.send(multipart: GroupCodec.Request.leave(group: group).frames)
        }
        thread.start()
    }
}

/// Deliveries counted by all members; `reachedAt` is when the count first reached
/// `target`, so that a row's time ends with its last delivery, not when the last
/// member notices (a member blocked in a receive waits out its 200 ms timeout:
/// counted, that made a 0.25 s row of 2 members look half as fast as 1).
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    private let target: Int
    private var reached: ContinuousClock.Instant?
    init(target: Int = .max) { self.target = target }
    var value: Int { lock.withLock { n } }
    var reachedAt: ContinuousClock.Instant? { lock.withLock { reached } }
    func add(_ k: Int) {
        lock.withLock {
            n += k
            if n >= target && reached == nil { reached = .now }
        }
    }
}

/// One group row: deliveries/s, the broker's CPU per delivery (µs) and the steal.
struct GroupRun { var rate: Double; var cpu: Double; var steal: Double }

/// A new group reading `count` journaled events with `members` members.
func groupRate(
    _ broker: Target, members: Int, count: Int, group: String, packed: Bool = false
) -> GroupRun {
    let consume = broker.endpoints["consume"]!
    let total = Counter(target: count)
    let cpu = broker.cpuSeconds, ticks = machineCPUTicks()
    let start = ContinuousClock.now
    let ms = (0..<members).map { _ in
        BenchMember(consume: consume, group: group, total: total, target: count, packed: packed)
    }
    for m in ms { m.done.wait() }
    let d = (total.reachedAt ?? ContinuousClock.now) - start
    let n = Double(total.value)
    return GroupRun(
        rate: n / (Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18),
        cpu: (broker.cpuSeconds - cpu) * 1e6 / max(n, 1), steal: stealPercent(ticks, machineCPUTicks()))
}

func preloadTopic(_ ingest: String, topic: String) throws {
    let ctx = try Context(defaultLingerMilliseconds: 0)
    let s = try ctx.socket(.dealer)
    defer { s.close() }
    try s.set(.receiveTimeout(milliseconds: 10_000))
    try s.connect(ingest)
    try s.send(multipart: IngestCodec.Publish(eventID: Array("late-\(UUID())".utf8), topic: topic, payload: [1]).frames)
    _ = try s.receiveMultipart()
}

/// Target 2 (issue 18): the group rate with 1, 2, 4 and 8 ACKing members, per
/// event (DELIVER, ACK, GRANT) and packed (DELIVER-PACKED, ACKS; §4.10.2), the
/// two forms alternating within each round, each row a new group reading the
/// whole journal. Target: packed ≥ 200k deliveries/s with 2 members, and no fall
/// from 1 to 8 members.
func printGroupTable(_ broker: Target, events: Int, rounds: Int) throws {
    let shapes = [1, 2, 4, 8]
    var runs: [String: [GroupRun]] = [:]
    for r in 0..<rounds {
        for members in shapes {
            for packed in [false, true] {
                let key = "\(packed ? "p" : "e")\(members)"
                runs[key, default: []].append(
                    groupRate(broker, members: members, count: events, group: "g\(key)-\(r)", packed: packed))
            }
        }
    }
    print(
        "| target 2: group of \(events) events, ACK each, credit 1,000 per member, \(rounds) alternating rounds | deliveries/s (median) | ratio to per-event | ratio to 1 member | broker CPU µs/delivery (median) | deliveries/s (min–max) | CPU steal % (min–max) |"
    )
    print("|---|---|---|---|---|---|---|")
    for packed in [false, true] {
        for members in shapes {
            let row = runs["\(packed ? "p" : "e")\(members)"]!
            let rate = median(row.map(\.rate))
            let perEvent = median(runs["e\(members)"]!.map(\.rate))
            let one = median(runs["\(packed ? "p" : "e")1"]!.map(\.rate))
            let label = packed ? "packed: DELIVER-PACKED + ACKS (§4.10.2)" : "per event: DELIVER + ACK, GRANT per batch"
            print(
                "| \(label), \(members) member(s)"
                    + String(
                        format: " | %.0f | %.2f | %.2f | %.2f | %.0f–%.0f | %.1f–%.1f |", rate, rate / perEvent,
                        rate / one, median(row.map(\.cpu)), row.map(\.rate).min()!, row.map(\.rate).max()!,
                        row.map(\.steal).min()!, row.map(\.steal).max()!))
        }
    }
}

@MainActor func runDeliveryBench() throws {
    let events = option("--events", 200_000)
    let rounds = option("--rounds", 3)
    let broker = try Target.broker(fsync: "never")
    defer { broker.stop() }
    let ingest = broker.endpoints["ingest"]!, consume = broker.endpoints["consume"]!
    try preload(ingest, count: events)
    print("## Delivery: replay and consumer groups (\(events) journaled events of 100 bytes, fsync=never)\n")
    print("| measure | median | runs |")
    print("|---|---|---|")
    var replays: [Double] = []
    for _ in 0..<rounds { replays.append(try replayRate(consume).rate) }
    print("| replay from seq 0, credit window 10,000 | \(Int(median(replays))) events/s | \(replays.map { Int($0) }) |")
    print()
    try printGroupTable(broker, events: events, rounds: rounds)
    print()
    print("| measure | median | runs |")
    print("|---|---|---|")
    var latencies: [Double] = []
    for r in 0..<rounds { latencies.append(try redeliveryAfterKill(consume, ingest: ingest, group: "late\(r)")) }
    print(
        "| redelivery after kill -9 of a member process (RedeliveryBench.swift) | \(Int(median(latencies))) ms | \(latencies.map { Int($0) }) |"
    )
}
