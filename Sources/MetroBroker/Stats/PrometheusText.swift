import MetroProtocol

/// Renders `BrokerStats` in the Prometheus text exposition format (0.0.4), for the
/// METRICS reply and the HTTP `/metrics` endpoint. Hand-written: eight counters
/// do not need a metrics registry (and swift-prometheus would cost build time).
public enum PrometheusText {
    public static func render(_ s: BrokerStats) -> String {
        var out = ""
        func metric(_ name: String, _ type: String, _ help: String, _ samples: [(String, UInt64)]) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for (labels, value) in samples { out += "\(name)\(labels) \(value)\n" }
        }
        metric(
            "metro_broker_received_total", "counter", "Messages received on the ingest and publish sockets.",
            [("", s.received)])
        metric("metro_broker_accepted_total", "counter", "Events accepted and given a seq.", [("", s.accepted)])
        metric("metro_broker_acked_total", "counter", "ACKs sent.", [("", s.acked)])
        metric(
            "metro_broker_deduplicated_total", "counter", "Retried publishes answered from the dedupe window.",
            [("", s.deduplicated)])
        metric("metro_broker_delivered_total", "counter", "Events handed to the events socket.", [("", s.delivered)])
        metric("metro_broker_rejected_total", "counter", "Requests answered with ERROR.", [("", s.rejected)])
        metric(
            "metro_broker_dropped_total", "counter", "Messages dropped, by cause.",
            s.dropped.sorted { $0.key < $1.key }.map { ("{cause=\"\($0.key)\"}", $0.value) })
        metric(
            "metro_broker_disconnects_total", "counter", "Peer disconnections by socket (oversized frames included).",
            s.disconnects.sorted { $0.key < $1.key }.map { ("{socket=\"\($0.key)\"}", $0.value) })
        metric("metro_broker_journal_bytes_total", "counter", "Bytes written to the journal.", [("", s.journalBytes)])
        metric("metro_broker_fsyncs_total", "counter", "fdatasync calls on the journal.", [("", s.fsyncs)])
        out += "# HELP metro_broker_fsync_seconds_total Time spent inside those fdatasync calls.\n"
        out += "# TYPE metro_broker_fsync_seconds_total counter\n"
        out += "metro_broker_fsync_seconds_total \(Double(s.fsyncNanoseconds) / 1e9)\n"
        metric("metro_broker_head_seq", "gauge", "The last seq assigned.", [("", s.headSeq)])
        metric(
            "metro_broker_durable_seq", "gauge", "The seq through which the journal is durable.", [("", s.durableSeq)])
        metric("metro_broker_journal_segments", "gauge", "Segment files in the journal.", [("", UInt64(s.segments))])
        metric("metro_broker_replays_total", "counter", "Replays started (protocol.md §4.9).", [("", s.replays)])
        metric("metro_broker_replayed_total", "counter", "Events sent by replays.", [("", s.replayed)])
        let groups = s.groups.sorted { $0.key < $1.key }
        func perGroup(_ name: String, _ type: String, _ help: String, _ value: (GroupStats) -> UInt64) {
            metric(name, type, help, groups.map { ("{group=\"\($0.key)\"}", value($0.value)) })
        }
        perGroup("metro_group_members", "gauge", "Members of a consumer group.") { UInt64($0.members) }
        perGroup("metro_group_pending", "gauge", "Events taken by a group and not yet ACKed.") { UInt64($0.pending) }
        perGroup("metro_group_redelivered_total", "counter", "Redeliveries in a group.") { $0.redelivered }
        perGroup("metro_group_dead_lettered_total", "counter", "Events a group dead-lettered.") { $0.deadLettered }
        perGroup("metro_group_lag", "gauge", "Seqs between a group's position and the head.") { $0.lag }
        return out
    }
}
