/// One long-lived process (by instance name, across its restarts) over the run:
/// its RSS and CPU series and its RSS growth over the last half of the run.
///
/// A restart shows as a new pid under the same name. Samples of one name are cut
/// into *incarnations*: runs of consecutive samples with the same pid (a pid whose
/// CPU time goes down is a reused pid, so a new incarnation too). CPU % is taken
/// only between two samples of one incarnation, because a new process's CPU time
/// starts again from zero; RSS growth compares samples of one incarnation only,
/// because a fresh process's RSS says nothing about its predecessor's leak.
public struct ProcessReport: Codable, Sendable, Equatable {
    public var name: String
    /// The pids in the order they appeared; more than one means restarts.
    public var pids: [Int32]
    /// Incarnations after the first one.
    public var restarts: Int
    public var points: [ProcessPoint]
    public var peakRssMiB: Double
    /// Mean CPU over every interval with a CPU value (% of one core).
    public var meanCpuPercent: Double?
    /// Nil when no incarnation has two samples in the last half of the run.
    public var rssGrowth: RssGrowth?

    static func build(name: String, samples: [ProcessSample], runSeconds: Double) -> ProcessReport {
        let incarnations = Self.incarnations(samples.sorted { $0.tNs < $1.tNs })
        var points: [ProcessPoint] = []
        var cpuValues: [Double] = []
        for incarnation in incarnations {
            var previous: ProcessSample?
            for sample in incarnation {
                var cpu: Double?
                if let previous, sample.tNs > previous.tNs {
                    let seconds = Double(sample.tNs - previous.tNs) / 1e9
                    let percent = max(0, sample.cpuSeconds - previous.cpuSeconds) / seconds * 100
                    cpu = percent
                    cpuValues.append(percent)
                }
                points.append(
                    ProcessPoint(
                        tSeconds: Double(sample.tNs) / 1e9, pid: sample.pid, rssMiB: mebibytes(sample.rssBytes),
                        cpuPercent: cpu))
                previous = sample
            }
        }
        var pids: [Int32] = []
        for incarnation in incarnations where !pids.contains(incarnation[0].pid) { pids.append(incarnation[0].pid) }
        return ProcessReport(
            name: name, pids: pids, restarts: max(0, incarnations.count - 1), points: points,
            peakRssMiB: points.map(\.rssMiB).max() ?? 0,
            meanCpuPercent: cpuValues.isEmpty ? nil : cpuValues.reduce(0, +) / Double(cpuValues.count),
            rssGrowth: RssGrowth.lastHalf(of: incarnations, runSeconds: runSeconds))
    }

    /// Consecutive samples with the same pid and non-decreasing CPU time.
    static func incarnations(_ sorted: [ProcessSample]) -> [[ProcessSample]] {
        var result: [[ProcessSample]] = []
        for sample in sorted {
            if let last = result.last?.last, last.pid == sample.pid, sample.cpuSeconds >= last.cpuSeconds {
                result[result.count - 1].append(sample)
            } else {
                result.append([sample])
            }
        }
        return result
    }
}

/// One sample as the charts draw it.
public struct ProcessPoint: Codable, Sendable, Equatable {
    public var tSeconds: Double
    public var pid: Int32
    public var rssMiB: Double
    /// CPU since the previous sample of the same process, in % of one core; nil on an
    /// incarnation's first sample (nothing to take a difference from).
    public var cpuPercent: Double?
}

/// How much a process's RSS grew over the last half of the run.
///
/// The last half is [runSeconds/2, runSeconds]; for an incarnation that started after
/// the middle, the last half of its own life. Of the incarnations with at least two
/// samples in their window, the one that covers most of it is measured (ties: the later one):
/// its last RSS in the half minus its first. `partial` says it did not cover the whole
/// half (a restart inside it), so the growth is over `fromSeconds`…`toSeconds` only.
public struct RssGrowth: Codable, Sendable, Equatable {
    public var pid: Int32
    public var fromSeconds: Double
    public var toSeconds: Double
    public var fromMiB: Double
    public var toMiB: Double
    public var growthMiB: Double
    /// Growth relative to `fromMiB`.
    public var growthPercent: Double
    public var partial: Bool

    static func lastHalf(of incarnations: [[ProcessSample]], runSeconds: Double) -> RssGrowth? {
        let halfStartNs = UInt64(max(0, runSeconds / 2) * 1e9)
        var best: [ProcessSample]?
        for incarnation in incarnations {
            // An incarnation born after the middle (a restart) is measured over the last
            // half of its own life, as the checker's `rss-bounded` judges it: from its
            // first sample it only shows its warm-up (a restarted broker went 14 → 51 MiB
            // in a 10-minute soak, +256%, while mapping its journal back in).
            let ownMiddle = incarnation[0].tNs + (incarnation[incarnation.count - 1].tNs - incarnation[0].tNs) / 2
            let inHalf = incarnation.filter { $0.tNs >= max(halfStartNs, ownMiddle) }
            guard inHalf.count >= 2 else { continue }
            let span = inHalf[inHalf.count - 1].tNs - inHalf[0].tNs
            if let current = best, span < current[current.count - 1].tNs - current[0].tNs { continue }
            best = inHalf
        }
        guard let samples = best, let first = samples.first, let last = samples.last else { return nil }
        let from = mebibytes(first.rssBytes)
        let to = mebibytes(last.rssBytes)
        // A sample interval's worth of slack: a sampler ticking each second does not
        // land exactly on the half's edges.
        let interval = Double(last.tNs - first.tNs) / 1e9 / Double(samples.count - 1)
        let covered = Double(last.tNs - first.tNs) / 1e9
        return RssGrowth(
            pid: first.pid, fromSeconds: Double(first.tNs) / 1e9, toSeconds: Double(last.tNs) / 1e9, fromMiB: from,
            toMiB: to, growthMiB: to - from, growthPercent: from > 0 ? (to - from) / from * 100 : 0,
            partial: covered + 2 * interval < runSeconds / 2)
    }
}

func mebibytes(_ bytes: UInt64) -> Double { Double(bytes) / 1_048_576 }

extension RssGrowth {
    /// The RSS growth of every process name over the last half of a run, measured as the
    /// report measures it (within one incarnation; see `RssGrowth`), so that a checker's
    /// `rss-bounded` verdict and the report's table can use the same numbers. Names
    /// without two samples of one pid in the last half are absent.
    public static func lastHalf(samples: [ProcessSample], runSeconds: Double) -> [String: RssGrowth] {
        Dictionary(grouping: samples, by: \.name).compactMapValues { ofName in
            lastHalf(of: ProcessReport.incarnations(ofName.sorted { $0.tNs < $1.tNs }), runSeconds: runSeconds)
        }
    }
}
