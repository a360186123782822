/// `rss-bounded`: for each process, RSS growth over the last half of the run is at
/// most max(32 MiB, 25% of where it started that half). Samples are compared only
/// within one pid: a restarted process (same name, new pid) starts a new series,
/// and a series that began after the run's middle (a restart) is judged over the
/// last half of its own life, so that a fresh process's warm-up is not taken for
/// a leak. A series with fewer than two samples in its window is not judged.
public enum RSSInvariant {
    public static let floorBytes: UInt64 = 32 << 20
    public static let fraction = 0.25

    public static func allowedGrowth(from rss: UInt64) -> UInt64 {
        max(floorBytes, UInt64(Double(rss) * fraction))
    }

    public static func check(samples: [ProcessSample]) -> InvariantVerdict {
        guard let first = samples.map(\.tNs).min(), let last = samples.map(\.tNs).max() else {
            return SoakInvariant.rssBounded.verdict(
                checked: 0, offending: [], detail: "no process samples were recorded", failed: true)
        }
        let middle = first + (last - first) / 2
        struct Series: Hashable {
            var name: String
            var pid: Int32
        }
        let series = Dictionary(grouping: samples) { Series(name: $0.name, pid: $0.pid) }
        var offending: [String] = []
        var lines: [String] = []
        var judged = 0
        for key in series.keys.sorted(by: { ($0.name, $0.pid) < ($1.name, $1.pid) }) {
            let s = series[key]!.sorted { $0.tNs < $1.tNs }
            let from = max(middle, s[0].tNs + (s[s.count - 1].tNs - s[0].tNs) / 2)
            let window = s.filter { $0.tNs >= from }
            guard window.count >= 2 else { continue }
            judged += 1
            let start = window[0].rssBytes
            let end = window[window.count - 1].rssBytes
            let growth = Int64(end) - Int64(start)
            let line =
                "\(key.name) (pid \(key.pid)): \(mib(start)) → \(mib(end)) MiB "
                + "(\(growth >= 0 ? "+" : "")\(percent(growth, of: start))%)"
            lines.append(line)
            if growth > Int64(allowedGrowth(from: start)) { offending.append("\(key.name) (pid \(key.pid))") }
        }
        let detail = "\(judged) process series judged over the last half of the run: \(lines.joined(separator: "; "))"
        return SoakInvariant.rssBounded.verdict(checked: judged, offending: offending, detail: detail)
    }

    private static func mib(_ bytes: UInt64) -> String {
        String(Double(bytes * 10 / (1 << 20)) / 10)
    }

    private static func percent(_ growth: Int64, of base: UInt64) -> String {
        base == 0 ? "∞" : String(Double(growth * 1000 / Int64(base)) / 10)
    }
}
