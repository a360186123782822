import Foundation

/// The live progress line on stderr: elapsed, rate, p99 (last 10 s), errors,
/// faults, live violations. On a terminal it is rewritten in place every
/// second; otherwise (a log, a test) one whole line every 5 s.
struct SoakProgress: Sendable {
    let recorder: HistoryRecorder
    let checker: SoakChecker
    let durationSeconds: Double
    /// The recorder's time when the timed load started (after the warm-up).
    let loadStartNs: UInt64

    func run() async {
        let terminal = isatty(2) == 1
        while !Task.isCancelled {
            try? await Task.sleep(for: terminal ? .seconds(1) : .seconds(5))
            if Task.isCancelled { break }
            await write(terminal: terminal)
        }
        if terminal { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    private func write(terminal: Bool) async {
        let (counts, p99, rate) = await recorder.snapshot()
        let violations = await checker.liveViolationCount()
        let elapsed = Double(recorder.nowNs() &- loadStartNs) / 1e9
        var text = String(format: "soak %4.0f/%.0f s  %6.1f ops/s", elapsed, durationSeconds, rate)
        text += p99.map { String(format: "  p99 %.1f ms", $0) } ?? "  p99 -"
        // As the report counts them: arrivals not started are neither sent nor failed.
        text += "  sent \(counts.operations - counts.saturated)  failed \(counts.failed - counts.saturated)"
        text += "  timeouts \(counts.timedOut)"
        if counts.saturated > 0 { text += "  not started \(counts.saturated)" }
        text += "  faults \(counts.faults)  violations \(violations)"
        let line = terminal ? "\r\u{1B}[2K" + text : text + "\n"
        FileHandle.standardError.write(Data(line.utf8))
    }
}
