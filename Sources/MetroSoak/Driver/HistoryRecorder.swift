public import Foundation

/// Collects the history of a run as it happens (operations, faults, samples)
/// and the few numbers the progress line shows. One actor, so the load's
/// concurrent operations, the chaos and the sampler append without locks.
public actor HistoryRecorder {
    public nonisolated let startedAt: Date
    private nonisolated let start: ContinuousClock.Instant
    private var history: SoakHistory
    /// (end, ms) of recent operations, for a rolling p99 on the progress line.
    private var recent: [(endNs: UInt64, ms: Double)] = []
    private var counts = Counts()

    public struct Counts: Sendable {
        public var operations = 0
        public var failed = 0
        public var timedOut = 0
        /// Operations not started because `--concurrency` were already in flight.
        public var saturated = 0
        public var faults = 0
    }

    public init(startSeq: UInt64) {
        startedAt = Date()
        start = ContinuousClock.now
        history = SoakHistory(startedAt: startedAt, startSeq: startSeq)
    }

    /// Nanoseconds since the run started (monotonic).
    public nonisolated func nowNs() -> UInt64 {
        let d = ContinuousClock.now - start
        return UInt64(max(0, d.components.seconds)) * 1_000_000_000 + UInt64(max(0, d.components.attoseconds))
            / 1_000_000_000
    }

    public func record(_ operation: SoakOperation) {
        history.operations.append(operation)
        counts.operations += 1
        switch operation.outcome {
        case .ok: break
        case .failed: counts.failed += 1
        case .timedOut: counts.timedOut += 1
        }
        if operation.error?.hasPrefix(Self.saturatedPrefix) == true { counts.saturated += 1 }
        recent.append((operation.endNs, Double(operation.endNs &- operation.startNs) / 1e6))
        if recent.count > 4096 { recent.removeFirst(recent.count - 2048) }
    }

    /// The error text of an operation that never started because the system was saturated.
    public static let saturatedPrefix = "not started: saturated"

    public func record(_ fault: SoakFault) {
        history.faults.append(fault)
        counts.faults += 1
    }

    public func record(_ samples: [ProcessSample]) { history.samples += samples }

    public func snapshot() -> (counts: Counts, p99Ms: Double?, windowRate: Double) {
        let now = nowNs()
        let window = recent.filter { now &- $0.endNs < 10_000_000_000 }
        let sorted = window.map(\.ms).sorted()
        let p99 = sorted.isEmpty ? nil : sorted[min(sorted.count - 1, Int(Double(sorted.count) * 0.99))]
        let span = min(10.0, Double(now) / 1e9)
        return (counts, p99, span > 0 ? Double(window.count) / span : 0)
    }

    public func finished() -> SoakHistory {
        var h = history
        h.operations.sort { $0.startNs < $1.startNs }
        return h
    }

    public func faultsSoFar() -> [SoakFault] { history.faults }
}
