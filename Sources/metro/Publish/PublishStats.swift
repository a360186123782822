import Foundation
import Histogram
import Synchronization

/// What a `metro publish` stream has done so far: counts, and the ACK latencies
/// in an HdrHistogram (microseconds, 3 significant digits). Shared by the sending
/// tasks, the progress line and the summary; every member from any thread.
final class PublishStats: Sendable {
    private struct State {
        var sent = 0
        var acked = 0
        var errors = 0
        /// Publishes stopped waiting for at an interruption: no answer came.
        var unanswered = 0
        var errorMessages: [String: Int] = [:]
        var latencies = Histogram<UInt64>(highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: .three)
    }

    private let state = Mutex(State())
    let started = ContinuousClock.now

    func sent() { state.withLock { $0.sent += 1 } }

    func acked(after latency: Duration) {
        let us =
            UInt64(max(0, latency.components.seconds)) * 1_000_000
            + UInt64(max(0, latency.components.attoseconds)) / 1_000_000_000_000
        state.withLock {
            $0.acked += 1
            $0.latencies.record(max(1, us))
        }
    }

    /// A publish whose wait was given up at an interruption (it may be stored or not).
    func unanswered() { state.withLock { $0.unanswered += 1 } }

    /// Sent and not yet acknowledged, refused or given up: what is in flight.
    var inFlight: Int { state.withLock { max(0, $0.sent - $0.acked - $0.errors - $0.unanswered) } }

    /// Returns whether this message is new (the first of its kind is printed).
    func failed(_ message: String) -> Bool {
        state.withLock {
            $0.errors += 1
            $0.errorMessages[message, default: 0] += 1
            return $0.errorMessages[message] == 1
        }
    }

    struct Snapshot: Encodable {
        let topic: String
        let fireAndForget: Bool
        let sent: Int
        let acked: Int
        let errors: Int
        /// Set when a signal stopped the stream.
        var interrupted = false
        /// Sent and never answered (only after an interruption): may or may not be stored.
        var unanswered = 0
        let seconds: Double
        let ratePerSecond: Double
        /// ACK latency percentiles in milliseconds (nil without ACKs).
        let p50Ms: Double?
        let p99Ms: Double?
        let maxMs: Double?
    }

    func snapshot(topic: String, fireAndForget: Bool) -> Snapshot {
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return state.withLock { s in
            func ms(_ p: Double) -> Double? {
                s.latencies.totalCount == 0 ? nil : Double(s.latencies.valueAtPercentile(p)) / 1000
            }
            return Snapshot(
                topic: topic, fireAndForget: fireAndForget, sent: s.sent, acked: s.acked, errors: s.errors,
                unanswered: s.unanswered, seconds: seconds,
                ratePerSecond: Double(fireAndForget ? s.sent : s.acked) / max(seconds, 1e-9),
                p50Ms: ms(50), p99Ms: ms(99), maxMs: s.latencies.totalCount == 0 ? nil : Double(s.latencies.max) / 1000)
        }
    }
}

extension PublishStats.Snapshot {
    /// `sent 1000, acked 1000, errors 0 in 2.01 s (497/s); ACK latency p50 1.20 ms, p99 4.50 ms`
    var line: String {
        var text = "sent \(sent), "
        text += fireAndForget ? "fire-and-forget (no ACKs)" : "acked \(acked)"
        text += ", errors \(errors) in \(String(format: "%.2f", seconds)) s (\(Int(ratePerSecond.rounded()))/s)"
        if let p50Ms, let p99Ms {
            text += "; ACK latency p50 \(String(format: "%.2f", p50Ms)) ms, p99 \(String(format: "%.2f", p99Ms)) ms"
        }
        if interrupted {
            text = "interrupted: " + text
            if unanswered > 0 {
                text += "; \(unanswered) sent without an answer (they may or may not be in the journal)"
            }
        }
        return text
    }

    var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: (try? encoder.encode(self)) ?? Data("{}".utf8), as: UTF8.self)
    }
}
