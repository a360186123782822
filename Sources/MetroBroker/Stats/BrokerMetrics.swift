import Metrics
import MetroProtocol

/// Hands the broker's counters to swift-metrics, so that the process's metrics
/// backend (swift-prometheus in `metro broker`) exports them with everything else
/// and `/metrics` never asks the broker's own consume socket (issue 13 §4).
///
/// The loop keeps counting in plain integers (`BrokerCounters`, no atomics on the
/// hot path); once a `periodNs` it takes a `BrokerStats` snapshot and calls
/// `publish`, which costs one atomic add or store per metric, not one per event.
/// A scrape therefore sees values up to one period old.
///
/// Counters stay counters: Prometheus counters must only grow, and swift-metrics
/// has no "set" for them, so each publish increments by the growth since the last
/// one (the loop's counters only grow, from 0 at start, so the exported counter
/// equals the loop's value at the last publish). Values that go up and down (head
/// seq, segments, group members, pending, lag) are gauges set to the value. Names,
/// labels and types are those of the METRICS reply (`PrometheusText`, protocol.md
/// §4.5).
///
/// Threading: loop thread only (the handles themselves are thread-safe; the
/// bookkeeping of what was published is not).
final class BrokerMetrics {
    /// How often the loop publishes. The loop wakes at least every
    /// `BrokerEngine.monitorPeriodNs`, so a publish is at most that much late.
    static let periodNs: UInt64 = 1_000_000_000

    private let factory: any MetricsFactory
    private var nextPublish: UInt64 = 0
    /// What the handles hold now: the last snapshot published.
    private var published = BrokerStats()

    private let received: Counter
    private let accepted: Counter
    private let acked: Counter
    private let deduplicated: Counter
    private let delivered: Counter
    private let rejected: Counter
    private let journalBytes: Counter
    private let fsyncs: Counter
    private let fsyncSeconds: FloatingPointCounter
    private let replays: Counter
    private let replayed: Counter
    private let replaysDamaged: Counter
    private let scrubPasses: Counter
    private let scrubBytes: Counter
    private let damagedSegments: Gauge
    private let scrubbedAt: Gauge
    private let headSeq: Gauge
    private let durableSeq: Gauge
    private let segments: Gauge
    /// By the label's value (`cause`, `socket`), made when first seen.
    private var dropped: [String: Counter] = [:]
    private var disconnects: [String: Counter] = [:]
    private var groups: [String: GroupMetrics] = [:]

    /// Makes every handle whose label set is known up front, so a scrape before
    /// the first publish already shows each series at 0.
    init(factory: any MetricsFactory = MetricsSystem.factory) {
        self.factory = factory
        func counter(_ name: String) -> Counter { Counter(label: name, dimensions: [], factory: factory) }
        func gauge(_ name: String) -> Gauge { Gauge(label: name, dimensions: [], factory: factory) }
        received = counter("metro_broker_received_total")
        accepted = counter("metro_broker_accepted_total")
        acked = counter("metro_broker_acked_total")
        deduplicated = counter("metro_broker_deduplicated_total")
        delivered = counter("metro_broker_delivered_total")
        rejected = counter("metro_broker_rejected_total")
        journalBytes = counter("metro_broker_journal_bytes_total")
        fsyncs = counter("metro_broker_fsyncs_total")
        fsyncSeconds = FloatingPointCounter(label: "metro_broker_fsync_seconds_total", dimensions: [], factory: factory)
        replays = counter("metro_broker_replays_total")
        replayed = counter("metro_broker_replayed_total")
        replaysDamaged = counter("metro_broker_replays_damaged_total")
        scrubPasses = counter("metro_broker_journal_scrub_passes_total")
        scrubBytes = counter("metro_broker_journal_scrubbed_bytes_total")
        damagedSegments = gauge("metro_broker_journal_damaged_segments")
        scrubbedAt = gauge("metro_broker_journal_scrubbed_at_seconds")
        headSeq = gauge("metro_broker_head_seq")
        durableSeq = gauge("metro_broker_durable_seq")
        segments = gauge("metro_broker_journal_segments")
        for cause in BrokerCounters.DropCause.allCases { _ = droppedCounter(cause.rawValue) }
        for socket in BrokerEngine.socketNames { _ = disconnectsCounter(socket) }
    }

    /// Publishes `snapshot()` if a period has passed since the last publish (the
    /// first call always publishes). Loop thread.
    @inline(__always)
    func publishIfDue(now: UInt64, _ snapshot: () -> BrokerStats) {
        guard now >= nextPublish else { return }
        nextPublish = now &+ Self.periodNs
        publish(snapshot())
    }

    /// Brings every handle to the values of `s`. Loop thread.
    func publish(_ s: BrokerStats) {
        let old = published
        grow(received, old.received, s.received)
        grow(accepted, old.accepted, s.accepted)
        grow(acked, old.acked, s.acked)
        grow(deduplicated, old.deduplicated, s.deduplicated)
        grow(delivered, old.delivered, s.delivered)
        grow(rejected, old.rejected, s.rejected)
        grow(journalBytes, old.journalBytes, s.journalBytes)
        grow(fsyncs, old.fsyncs, s.fsyncs)
        if s.fsyncNanoseconds > old.fsyncNanoseconds {
            fsyncSeconds.increment(by: Double(s.fsyncNanoseconds - old.fsyncNanoseconds) / 1e9)
        }
        grow(replays, old.replays, s.replays)
        grow(replayed, old.replayed, s.replayed)
        grow(replaysDamaged, old.damagedReplays ?? 0, s.damagedReplays ?? 0)
        grow(scrubPasses, old.scrub?.passes ?? 0, s.scrub?.passes ?? 0)
        grow(scrubBytes, old.scrub?.bytesRead ?? 0, s.scrub?.bytesRead ?? 0)
        damagedSegments.record(Double(s.scrub?.damagedSegments ?? 0))
        scrubbedAt.record(Double(s.scrub?.lastPassEndedMs ?? 0) / 1000)
        headSeq.record(Double(s.headSeq))
        durableSeq.record(Double(s.durableSeq))
        segments.record(Double(s.segments))
        for (cause, value) in s.dropped { grow(droppedCounter(cause), old.dropped[cause] ?? 0, value) }
        for (socket, value) in s.disconnects {
            grow(disconnectsCounter(socket), old.disconnects[socket] ?? 0, value)
        }
        for (name, group) in s.groups {
            groupMetrics(name).publish(group, after: old.groups[name])
        }
        // A deleted group's series go with it (a gauge would hold its last lag for good).
        for name in groups.keys where s.groups[name] == nil {
            groups.removeValue(forKey: name)?.destroy()
        }
        published = s
    }

    private func droppedCounter(_ cause: String) -> Counter {
        if let c = dropped[cause] { return c }
        let c = Counter(label: "metro_broker_dropped_total", dimensions: [("cause", cause)], factory: factory)
        dropped[cause] = c
        return c
    }

    private func disconnectsCounter(_ socket: String) -> Counter {
        if let c = disconnects[socket] { return c }
        let c = Counter(label: "metro_broker_disconnects_total", dimensions: [("socket", socket)], factory: factory)
        disconnects[socket] = c
        return c
    }

    private func groupMetrics(_ name: String) -> GroupMetrics {
        if let g = groups[name] { return g }
        let g = GroupMetrics(group: name, factory: factory)
        groups[name] = g
        return g
    }
}

/// One consumer group's series (`metro_group_*{group="..."}`).
private struct GroupMetrics {
    let members: Gauge
    let pending: Gauge
    let lag: Gauge
    let redelivered: Counter
    let deadLettered: Counter
    let expired: Counter
    let stalled: Gauge
    let damagedSkipped: Counter

    init(group: String, factory: any MetricsFactory) {
        let labels = [("group", group)]
        members = Gauge(label: "metro_group_members", dimensions: labels, factory: factory)
        pending = Gauge(label: "metro_group_pending", dimensions: labels, factory: factory)
        lag = Gauge(label: "metro_group_lag", dimensions: labels, factory: factory)
        redelivered = Counter(label: "metro_group_redelivered_total", dimensions: labels, factory: factory)
        deadLettered = Counter(label: "metro_group_dead_lettered_total", dimensions: labels, factory: factory)
        expired = Counter(label: "metro_group_expired_total", dimensions: labels, factory: factory)
        stalled = Gauge(label: "metro_group_stalled", dimensions: labels, factory: factory)
        damagedSkipped = Counter(label: "metro_group_damaged_skipped_total", dimensions: labels, factory: factory)
    }

    func destroy() {
        members.destroy()
        pending.destroy()
        lag.destroy()
        redelivered.destroy()
        deadLettered.destroy()
        expired.destroy()
        stalled.destroy()
        damagedSkipped.destroy()
    }

    func publish(_ g: GroupStats, after old: GroupStats?) {
        members.record(Double(g.members))
        pending.record(Double(g.pending))
        lag.record(Double(g.lag))
        grow(redelivered, old?.redelivered ?? 0, g.redelivered)
        grow(deadLettered, old?.deadLettered ?? 0, g.deadLettered)
        grow(expired, old?.expired ?? 0, g.expired)
        stalled.record(g.stalled == nil ? 0 : 1)
        grow(damagedSkipped, old?.damagedSkipped ?? 0, g.damagedSkipped)
    }
}

/// Increments `counter` by how much a loop counter grew from `old` to `new`.
/// The loop's counters never shrink while the broker runs; if one ever did, the
/// exported counter stays put rather than break Prometheus's monotonic rule.
@inline(__always)
private func grow(_ counter: Counter, _ old: UInt64, _ new: UInt64) {
    guard new > old else { return }
    counter.increment(by: Int64(clamping: new - old))
}
