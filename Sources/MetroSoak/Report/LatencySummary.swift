import Histogram

/// The percentiles of one latency (publish→ACK, upload→processed, ...) over a run,
/// and its p99 per 10-second window for the report's chart.
///
/// Samples go into an HdrHistogram in microseconds with three significant digits,
/// so a percentile is within 0.1% of the true sample value (HdrHistogram reports
/// the highest value equivalent to the sample's bucket); `maxMs` is the exact
/// largest sample.
public struct LatencySummary: Codable, Sendable, Equatable {
    public var name: String
    public var count: Int
    public var p50Ms: Double
    public var p90Ms: Double
    public var p99Ms: Double
    public var p999Ms: Double
    public var maxMs: Double
    /// p99 per window of `LatencySummary.windowSeconds`, windows with samples only.
    /// Empty when the samples carry no time (the checker's latencies).
    public var p99Windows: [LatencyWindow]

    /// The width of a chart window.
    public static let windowSeconds = 10.0

    /// A summary of `samples` (milliseconds); nil when there is none.
    /// - Parameter timed: the same samples with the second of the run they started in,
    ///   for the per-window series (pass [] when unknown).
    /// Samples that are not finite numbers (a checker's NaN) are left out, not trapped on.
    static func summarize(name: String, samplesMs rawSamples: [Double], timed: [(atSeconds: Double, ms: Double)] = [])
        -> LatencySummary?
    {
        let samplesMs = rawSamples.filter(\.isFinite)
        guard !samplesMs.isEmpty else { return nil }
        let histogram = Self.histogram(samplesMs)
        let windows = Dictionary(grouping: timed) { Int(($0.atSeconds / windowSeconds).rounded(.down)) }
            .sorted { $0.key < $1.key }
            .map { index, samples in
                LatencyWindow(
                    startSeconds: Double(index) * windowSeconds, count: samples.count,
                    p99Ms: Self.percentile(99, of: Self.histogram(samples.map(\.ms))))
            }
        return LatencySummary(
            name: name, count: samplesMs.count, p50Ms: percentile(50, of: histogram),
            p90Ms: percentile(90, of: histogram), p99Ms: percentile(99, of: histogram),
            p999Ms: percentile(99.9, of: histogram), maxMs: samplesMs.max() ?? 0, p99Windows: windows)
    }

    private static func histogram(_ samplesMs: [Double]) -> Histogram<UInt64> {
        // Up to one hour in µs; a longer sample (a hung request) is clamped to the top.
        let highest: UInt64 = 3_600_000_000
        var histogram = Histogram<UInt64>(highestTrackableValue: highest, numberOfSignificantValueDigits: .three)
        for ms in samplesMs {
            let us = (max(0, ms) * 1000).rounded()
            _ = histogram.record(us >= Double(highest) ? highest : UInt64(us))
        }
        return histogram
    }

    private static func percentile(_ p: Double, of histogram: Histogram<UInt64>) -> Double {
        Double(histogram.valueAtPercentile(p)) / 1000
    }
}

/// The p99 of the samples that started in one window of the run.
public struct LatencyWindow: Codable, Sendable, Equatable {
    public var startSeconds: Double
    public var count: Int
    public var p99Ms: Double
}
