import Foundation

extension SoakReport {
    /// Below this share of the target rate the report says the system did not keep up.
    static let keptUpShare = 0.9
    /// How `capacitySentence` starts (the renderers set it in bold).
    static let capacityLead = "Below the target rate:"

    /// When the run succeeded at well under its target rate: one sentence that says
    /// so first, then what held the rate down (arrivals not started because the
    /// in-flight limit was full, requests refused as overloaded, faults) and the
    /// busiest processes. Nil when the run kept up.
    ///
    /// Why: a run that passes every invariant at 72% of its rate is a PASS of
    /// correctness, not of capacity. Until 2026-12-05 the shortfall was only in the
    /// "ok/s of … targeted" figure and the not-started column, easy to read past.
    var capacitySentence: String? {
        let target = configuration.targetRate
        let achieved = totals.overall.okPerSecond
        guard target > 0, achieved < target * Self.keptUpShare else { return nil }
        let share = Int((achieved / target * 100).rounded())
        var text = "\(Self.capacityLead) \(ReportText.fixed(achieved, 1)) ok/s is \(share)% of the "
        text += "\(compactNumber(target))/s asked."
        var causes: [String] = []
        let notStarted = totals.byKind.filter { $0.notStarted > 0 }.sorted { $0.notStarted > $1.notStarted }
        if !notStarted.isEmpty {
            let total = notStarted.reduce(0) { $0 + $1.notStarted }
            let kinds = notStarted.prefix(3).map { "\($0.kind) \($0.notStarted)" }.joined(separator: ", ")
            causes.append(
                "\(total) arrivals not started (\(kinds)): as many operations of their kind were in flight as --concurrency allows, the system answering too slowly"
            )
        }
        let overloaded = failures.filter { Self.isOverload($0.cause) }.reduce(0) { $0 + $1.count }
        if overloaded > 0 { causes.append("\(overloaded) requests refused as overloaded (429)") }
        if !faults.isEmpty { causes.append("\(faults.count) injected faults") }
        if !causes.isEmpty { text += " What held it down: " + causes.joined(separator: "; ") + "." }
        let busy = processes.compactMap { p in p.meanCpuPercent.map { (p.name, $0) } }
        if !busy.isEmpty {
            let sum = busy.reduce(0) { $0 + $1.1 }
            let top = busy.sorted { $0.1 > $1.1 }.prefix(3).map { "\($0.0) \(Int($0.1.rounded()))%" }
            text += " The system's processes used \(ReportText.fixed(sum / 100, 1)) cores on average"
            if configuration.cores > 0 { text += " of this machine's \(configuration.cores)" }
            text += "; the busiest (% of a core): \(top.joined(separator: ", "))."
        }
        text += " This machine does not sustain this rate of this mix: to soak for correctness, "
        text +=
            "run at a rate it keeps up with (about \(compactNumber((achieved / 10).rounded(.down) * 10)) ops/s here)."
        return text
    }

    /// A failure's cause that says the system shed the request (HTTP 429, rpc overload).
    static func isOverload(_ cause: String) -> Bool {
        cause.contains("429") || cause.localizedCaseInsensitiveContains("overloaded")
    }
}
