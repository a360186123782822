package import MetroProtocol
import Prometheus

/// Renders `BrokerStats` in the Prometheus text exposition format (0.0.4), for the
/// METRICS reply (protocol.md §4.5) and through it the HTTP `/metrics` endpoint.
///
/// The loop keeps its counters as plain integers (touched per event, loop thread
/// only); a METRICS request takes a snapshot and this fills a fresh
/// swift-prometheus registry from it, so the exposition format (names, labels,
/// escaping, HELP and TYPE lines) is the library's, not ours.
package enum PrometheusText {
    package static func render(_ s: BrokerStats) -> String {
        let registry = PrometheusCollectorRegistry()
        /// `metro_<subsystem>_<name>`: the names are whole, so no unit suffix is added.
        func descriptor(_ name: String, _ help: String) -> MetricNameDescriptor {
            MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
        }
        func counter(_ name: String, _ help: String, _ value: UInt64, labels: [(String, String)] = []) {
            registry.makeCounter(descriptor: descriptor(name, help), labels: labels)
                .increment(by: Int64(clamping: value))
        }
        func gauge(_ name: String, _ help: String, _ value: UInt64, labels: [(String, String)] = []) {
            registry.makeGauge(descriptor: descriptor(name, help), labels: labels).set(to: Double(value))
        }
        counter("metro_broker_received_total", "Messages received on the ingest and publish sockets.", s.received)
        counter("metro_broker_accepted_total", "Events accepted and given a seq.", s.accepted)
        counter("metro_broker_acked_total", "ACKs sent.", s.acked)
        counter(
            "metro_broker_deduplicated_total", "Retried publishes answered from the dedupe window.", s.deduplicated)
        counter("metro_broker_delivered_total", "Events handed to the events socket.", s.delivered)
        counter("metro_broker_rejected_total", "Requests answered with ERROR.", s.rejected)
        for (cause, value) in s.dropped {
            counter("metro_broker_dropped_total", "Messages dropped, by cause.", value, labels: [("cause", cause)])
        }
        for (socket, value) in s.disconnects {
            counter(
                "metro_broker_disconnects_total", "Peer disconnections by socket (oversized frames included).", value,
                labels: [("socket", socket)])
        }
        counter("metro_broker_journal_bytes_total", "Bytes written to the journal.", s.journalBytes)
        counter("metro_broker_fsyncs_total", "fdatasync calls on the journal.", s.fsyncs)
        registry.makeCounter(
            descriptor: descriptor("metro_broker_fsync_seconds_total", "Time spent inside those fdatasync calls.")
        ).increment(by: Double(s.fsyncNanoseconds) / 1e9)
        gauge("metro_broker_head_seq", "The last seq assigned.", s.headSeq)
        gauge("metro_broker_durable_seq", "The seq through which the journal is durable.", s.durableSeq)
        gauge("metro_broker_journal_segments", "Segment files in the journal.", UInt64(s.segments))
        counter("metro_broker_replays_total", "Replays started (protocol.md §4.9).", s.replays)
        counter("metro_broker_replayed_total", "Events sent by replays.", s.replayed)
        counter(
            "metro_broker_replays_damaged_total", "Replays ended at a damaged journal record (ERROR 206).",
            s.damagedReplays ?? 0)
        counter(
            "metro_broker_journal_scrub_passes_total", "Passes of the journal scrub over every sealed segment.",
            s.scrub?.passes ?? 0)
        counter(
            "metro_broker_journal_scrubbed_bytes_total", "Bytes of sealed segments the journal scrub read.",
            s.scrub?.bytesRead ?? 0)
        gauge(
            "metro_broker_journal_damaged_segments",
            "Sealed segments with a damaged record, found by the scrub's last pass.",
            UInt64(s.scrub?.damagedSegments ?? 0))
        gauge(
            "metro_broker_journal_scrubbed_at_seconds", "When the scrub's last pass ended (Unix seconds; 0 before).",
            (s.scrub?.lastPassEndedMs ?? 0) / 1000)
        for (group, g) in s.groups {
            let labels = [("group", group)]
            gauge("metro_group_members", "Members of a consumer group.", UInt64(g.members), labels: labels)
            gauge(
                "metro_group_pending", "Events taken by a group and not yet ACKed.", UInt64(g.pending), labels: labels)
            counter("metro_group_redelivered_total", "Redeliveries in a group.", g.redelivered, labels: labels)
            counter("metro_group_dead_lettered_total", "Events a group dead-lettered.", g.deadLettered, labels: labels)
            counter(
                "metro_group_expired_total", "Events retention removed before a group had them ACKed.", g.expired,
                labels: labels)
            gauge("metro_group_lag", "Seqs between a group's position and the head.", g.lag, labels: labels)
            gauge(
                "metro_group_stalled", "1 while a group waits before a journal record it cannot read.",
                g.stalled == nil ? 0 : 1, labels: labels)
            counter(
                "metro_group_damaged_skipped_total", "Damaged records a group was moved past (SKIP-DAMAGED).",
                g.damagedSkipped, labels: labels)
        }
        return registry.emitToString()
    }
}
