import CProxyBaseline
import Foundation

// Issue 18 target 4: how the fan-out's cost grows, against zmq_proxy on the same
// shape. Two tables, each row alternating proxy and broker for `--fanout-rounds`
// rounds (medians):
// - subscribers: 1, 4, 16, 64 SUBs, each subscribed to the one topic, so every
//   event is delivered that many times;
// - topics: 1, 100, 10,000 distinct topics with as many prefix subscriptions
//   (one subscriber holds them all), the publisher cycling over the topics.
// The measure that this shared machine can judge is the target's CPU per
// delivered event (user + system from /proc), not the rate: the C reader
// (`metro_bench_fanout`: one thread reading every subscriber) shares the 2 cores.
// The broker runs with its journal on (fsync interval, as in the fire-and-forget table).
// Two C forwarders (no journal) price the event's shape apart from the broker:
// the envelope as its own frame (the broker's metro/1 shape, §4.4) and inside
// the topic frame (the two-frame form of target 5).

struct FanoutRun {
    var rate: Double
    var cpuPerDelivered: Double
    var delivered: UInt64
    var steal: Double
}

func fanout(_ target: Target, events: Int, subscribers: Int, topics: Int) -> FanoutRun {
    let before = target.cpuSeconds, ticks = machineCPUTicks()
    var delivered: UInt64 = 0
    var seconds = 0.0
    _ = metro_bench_fanout(
        target.endpoints["publish"]!, target.endpoints["events"]!, UInt64(events), payloadSize, Int32(subscribers),
        Int32(topics), &delivered, &seconds)
    let cpu = target.cpuSeconds - before
    return FanoutRun(
        rate: Double(delivered) / max(seconds, 1e-9), cpuPerDelivered: cpu / Double(max(delivered, 1)),
        delivered: delivered, steal: stealPercent(ticks, machineCPUTicks()))
}

func runFanoutBench() throws {
    let events = option("--fanout-events", 200_000)
    let fanoutRounds = max(1, option("--fanout-rounds", 3))
    let shapes: [(table: String, subscribers: Int, topics: Int)] =
        [1, 4, 16, 64].map { ("subscribers", $0, 1) } + [1, 100, 10_000].map { ("topics", 1, $0) }
    var firstTopicsRow: Double?
    for table in ["subscribers", "topics"] {
        print("")
        print(
            "| fan-out by \(table), 100 B, \(events) events, median of \(fanoutRounds) alternating rounds | delivered/s proxy | delivered/s broker | CPU µs/delivered proxy | CPU µs/delivered broker | broker/proxy CPU | C forwarder/proxy CPU: 3 frames; 2-frame form | delivered (min) | steal % (max) |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        for shape in shapes where shape.table == table {
            var proxyRuns: [FanoutRun] = [], brokerRuns: [FanoutRun] = []
            var forwardRuns: [FanoutRun] = [], inlineRuns: [FanoutRun] = []
            // Fewer events per row as subscribers grow: each is delivered that many times.
            let n = max(1000, events / max(1, shape.subscribers / 4))
            for _ in 0..<fanoutRounds {
                let p = try Target.proxy()
                proxyRuns.append(fanout(p, events: n, subscribers: shape.subscribers, topics: shape.topics))
                p.stop()
                let b = try Target.broker(fsync: "interval")
                brokerRuns.append(fanout(b, events: n, subscribers: shape.subscribers, topics: shape.topics))
                b.stop()
                let f = try Target.forwarder()
                forwardRuns.append(fanout(f, events: n, subscribers: shape.subscribers, topics: shape.topics))
                f.stop()
                let fi = try Target.inlineForwarder()
                inlineRuns.append(fanout(fi, events: n, subscribers: shape.subscribers, topics: shape.topics))
                fi.stop()
            }
            let fc = median(forwardRuns.map(\.cpuPerDelivered)) * 1e6
            let ic = median(inlineRuns.map(\.cpuPerDelivered)) * 1e6
            let pc = median(proxyRuns.map(\.cpuPerDelivered)) * 1e6
            let bc = median(brokerRuns.map(\.cpuPerDelivered)) * 1e6
            if table == "topics" && firstTopicsRow == nil { firstTopicsRow = bc }
            let label = table == "subscribers" ? "\(shape.subscribers) subscribers" : "\(shape.topics) topics"
            print(
                String(
                    format: "| %@ | %.0f | %.0f | %.2f | %.2f | %.2f | %.2f; %.2f | %llu | %.1f |", label,
                    median(proxyRuns.map(\.rate)), median(brokerRuns.map(\.rate)), pc, bc, bc / max(pc, 1e-9),
                    fc / max(pc, 1e-9), ic / max(pc, 1e-9),
                    (proxyRuns + brokerRuns + forwardRuns + inlineRuns).map(\.delivered).min()!,
                    (proxyRuns + brokerRuns + forwardRuns + inlineRuns).map(\.steal).max()!))
            if table == "topics", shape.topics == 10_000, let first = firstTopicsRow {
                print(String(format: "| broker CPU at 10,000 topics ÷ at 1 topic | | | | %.2f× | | | | |", bc / first))
            }
        }
    }
}
