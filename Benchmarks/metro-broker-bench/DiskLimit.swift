// Target 7 of issue 18: acknowledged publish at window 1 against what the disk
// allows in the same run, 1 / mean fdatasync, measured by a C loop on the
// filesystem of the broker's journal (the temp directory) with the journal's
// shape: one record written, then synced, on zeros synced ahead.
import CProxyBaseline
import Foundation

/// One run of the disk's own limit: the mean fdatasync (µs) of `count` syncs.
struct DiskRun {
    var meanMicros: Double
    var p50Micros: Double
    var steal: Double
    /// Syncs per second the disk allows one writer that waits for each: 1 / mean.
    var limit: Double { 1e6 / meanMicros }
}

/// `record`: about a journal record of a 100-byte event (Appendix B).
func diskLimit(count: Int = 2_000, record: Int = 160) -> DiskRun {
    var durations = [Int64](repeating: 0, count: count)
    let ticks = machineCPUTicks()
    let rc = metro_bench_fdatasync(NSTemporaryDirectory(), UInt64(count), record, &durations)
    let steal = stealPercent(ticks, machineCPUTicks())
    guard rc == 0 else { return DiskRun(meanMicros: .nan, p50Micros: .nan, steal: steal) }
    let mean = Double(durations.reduce(0, +)) / Double(count) / 1000
    return DiskRun(meanMicros: mean, p50Micros: percentile(durations, 0.5), steal: steal)
}

/// The target-7 table: each round's window-1 rate over the same round's disk
/// limit (the two ran back to back), and the median of those ratios.
func printWindowOneTable(rates: [Double], cpu: [Double], steal: [Double], disk: [DiskRun]) {
    guard !rates.isEmpty, rates.count == disk.count else { return }
    let ratios = zip(rates, disk).map { $0 / $1.limit }
    print("")
    print(
        "| target 7: window 1 vs the disk, same run | events/s (median) | 1 / mean fdatasync (median) | ratio (median of rounds) | ratios | mean / p50 fdatasync µs | broker CPU µs/event | CPU steal % (acked; disk) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    print(
        String(
            format:
                "| window 1, 1 event per PUBLISH (target ≥ 0.80) | %.0f | %.0f | %.2f | %@ | %.0f / %.0f | %.0f | %@; %@ |",
            median(rates), median(disk.map(\.limit)), median(ratios),
            ratios.map { String(format: "%.2f", $0) }.joined(separator: " "), median(disk.map(\.meanMicros)),
            median(disk.map(\.p50Micros)), median(cpu), steal.map { String(format: "%.1f", $0) }.joined(separator: " "),
            disk.map { String(format: "%.1f", $0.steal) }.joined(separator: " ")))
}
