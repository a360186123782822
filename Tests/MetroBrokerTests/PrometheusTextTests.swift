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
        let text = PrometheusText.render(stats)
        #expect(text.contains("# TYPE metro_broker_received_total counter\nmetro_broker_received_total 7\n"))
        #expect(text.contains("metro_broker_acked_total 5\n"))
        #expect(text.contains("metro_broker_dropped_total{cause=\"ack_hwm\"} 0\n"))
        #expect(text.contains("metro_broker_dropped_total{cause=\"publish_malformed\"} 2\n"))
        #expect(text.contains("metro_broker_disconnects_total{socket=\"ingest\"} 1\n"))
        #expect(text.contains("# TYPE metro_broker_head_seq gauge\n"))
        // Every sample line is `name{labels}? value`.
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            #expect(line.split(separator: " ").count == 2, "\(line)")
        }
    }
}
