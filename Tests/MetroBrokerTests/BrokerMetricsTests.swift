import MetroProtocol
import Prometheus
import Testing

@testable import MetroBroker

/// `BrokerMetrics` against a real swift-prometheus registry: what `/metrics`
/// serves must be what the METRICS reply (`PrometheusText`) says, sample by sample.
@Suite struct BrokerMetricsTests {
    private func stats(scale: UInt64) -> BrokerStats {
        var s = BrokerStats()
        s.received = 7 * scale
        s.accepted = 6 * scale
        s.acked = 5 * scale
        s.deduplicated = scale
        s.delivered = 4 * scale
        s.rejected = 2 * scale
        s.journalBytes = 1000 * scale
        s.fsyncs = 3 * scale
        s.fsyncNanoseconds = 1_500_000_000 * scale
        s.headSeq = 99 * scale
        s.durableSeq = 98 * scale
        s.segments = Int(scale)
        s.replays = scale
        s.replayed = 11 * scale
        s.dropped = Dictionary(uniqueKeysWithValues: BrokerCounters.DropCause.allCases.map { ($0.rawValue, scale) })
        s.disconnects = Dictionary(uniqueKeysWithValues: BrokerEngine.socketNames.map { ($0, 2 * scale) })
        s.groups = [
            "workers": GroupStats(
                members: Int(scale), pending: 3, redelivered: 4 * scale, deadLettered: scale, expired: scale,
                position: 9, lag: 5 * scale)
        ]
        return s
    }

    /// The sample lines (no HELP/TYPE comments), sorted: the two renderings order
    /// families differently.
    private func samples(_ text: String) -> [String] {
        text.split(separator: "\n").filter { !$0.hasPrefix("#") }.map(String.init).sorted()
    }

    @Test func everySeriesExistsAtZeroBeforeTheFirstPublish() {
        let registry = PrometheusCollectorRegistry()
        _ = BrokerMetrics(factory: PrometheusMetricsFactory(registry: registry))
        let text = registry.emitToString()
        #expect(text.contains("# TYPE metro_broker_received_total counter\nmetro_broker_received_total 0\n"))
        #expect(text.contains("metro_broker_dropped_total{cause=\"events_hwm\"} 0\n"))
        #expect(text.contains("metro_broker_disconnects_total{socket=\"consume\"} 0\n"))
        #expect(text.contains("# TYPE metro_broker_head_seq gauge\nmetro_broker_head_seq 0.0\n"))
    }

    /// Publishing twice (counters growing, gauges going down) leaves exactly the
    /// samples PrometheusText renders from the second snapshot.
    @Test func publishedSamplesMatchTheMetricsReply() {
        let registry = PrometheusCollectorRegistry()
        let metrics = BrokerMetrics(factory: PrometheusMetricsFactory(registry: registry))
        metrics.publish(stats(scale: 3))
        var later = stats(scale: 5)
        later.groups["workers"]!.members = 1  // a gauge that went down
        later.headSeq = 1
        metrics.publish(later)
        #expect(samples(registry.emitToString()) == samples(PrometheusText.render(later)))
        // Counters keep their type; the METRICS reply's types are the same.
        let text = registry.emitToString()
        #expect(text.contains("# TYPE metro_group_redelivered_total counter\n"))
        #expect(text.contains("# TYPE metro_group_lag gauge\n"))
        #expect(text.contains("metro_broker_fsync_seconds_total 7.5\n"))
    }

    @Test func publishIfDueWaitsAPeriod() {
        let registry = PrometheusCollectorRegistry()
        let metrics = BrokerMetrics(factory: PrometheusMetricsFactory(registry: registry))
        var snapshots = 0
        let start: UInt64 = 5_000_000_000
        for now in [start, start + 1, start + BrokerMetrics.periodNs - 1, start + BrokerMetrics.periodNs] {
            metrics.publishIfDue(now: now) {
                snapshots += 1
                return stats(scale: UInt64(snapshots))
            }
        }
        #expect(snapshots == 2)
        #expect(registry.emitToString().contains("metro_broker_received_total 14\n"))
    }

    /// A loop counter never shrinks; if one did, the exported counter must not.
    @Test func aShrinkingValueDoesNotMakeACounterGoDown() {
        let registry = PrometheusCollectorRegistry()
        let metrics = BrokerMetrics(factory: PrometheusMetricsFactory(registry: registry))
        metrics.publish(stats(scale: 4))
        metrics.publish(stats(scale: 2))
        metrics.publish(stats(scale: 3))
        #expect(registry.emitToString().contains("metro_broker_received_total 35\n"))
    }
}
