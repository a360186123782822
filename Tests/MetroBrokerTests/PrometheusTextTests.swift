import MetroBroker
import MetroProtocol
import Testing

@Suite struct PrometheusTextTests {
    @Test func rendersEveryCounterWithTypeAndLabels() {
        var stats = BrokerStats()
        stats.received = 7
        stats.acked = 5
        stats.dropped = ["publish_malformed": 2, "ack_hwm": 0]
        stats.disconnects = ["ingest": 1]
        stats.groups = [
            "workers": GroupStats(members: 2, pending: 3, redelivered: 4, deadLettered: 1, position: 9, lag: 5)
        ]
        let text = PrometheusText.render(stats)
        #expect(text.contains("# TYPE metro_broker_received_total counter\nmetro_broker_received_total 7\n"))
        #expect(text.contains("metro_broker_acked_total 5\n"))
        #expect(text.contains("metro_broker_dropped_total{cause=\"ack_hwm\"} 0\n"))
        #expect(text.contains("metro_broker_dropped_total{cause=\"publish_malformed\"} 2\n"))
        #expect(text.contains("metro_broker_disconnects_total{socket=\"ingest\"} 1\n"))
        #expect(text.contains("# TYPE metro_broker_head_seq gauge\n"))
        // Gauges are doubles in swift-prometheus.
        #expect(text.contains("metro_group_members{group=\"workers\"} 2.0\n"))
        #expect(text.contains("metro_group_pending{group=\"workers\"} 3.0\n"))
        #expect(text.contains("metro_group_redelivered_total{group=\"workers\"} 4\n"))
        #expect(text.contains("metro_group_dead_lettered_total{group=\"workers\"} 1\n"))
        #expect(text.contains("metro_group_lag{group=\"workers\"} 5.0\n"))
        #expect(text.contains("# HELP metro_broker_fsync_seconds_total "))
        // Every sample line is `name{labels}? value`.
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            #expect(line.split(separator: " ").count == 2, "\(line)")
        }
    }
}
