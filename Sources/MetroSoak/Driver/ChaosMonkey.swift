import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The faults of `--chaos`, one at a time at seeded times: kill -9 of a
/// component (`metro up` restarts it), SIGSTOP then SIGCONT after 2–5 s, or a
/// full disk under the broker's journal for 3–8 s (the preloaded
/// libMetroFaultInject.so makes pwrite to `.seg` files fail with ENOSPC while
/// a flag file exists). Each is recorded with the time until the system was
/// whole again (`WholeProbe`); the next fault is drawn only after that.
final class ChaosMonkey: Sendable {
    struct Settings: Sendable {
        /// Mean seconds between faults (the gaps are exponential).
        var meanInterval: Double
        /// The flag file that fills the disk while it exists (nil: no disk faults).
        var diskFullFlag: String?
        /// `metro up`'s log, where the broker says that it refuses and recovers.
        var upLog: String?
        var wholeTimeout: Duration = .seconds(90)
    }

    private let settings: Settings
    private let upPid: Int32
    private let probe: WholeProbe
    private let recorder: HistoryRecorder
    /// The pid held stopped and whether the disk is full, so `endAll` can undo them.
    private let active = Mutex<(paused: Int32?, diskFull: Bool)>((nil, false))

    init(settings: Settings, upPid: Int32, probe: WholeProbe, recorder: HistoryRecorder) {
        self.settings = settings
        self.upPid = upPid
        self.probe = probe
        self.recorder = recorder
    }

    /// Injects faults until `endNs` (no fault starts later; one under way finishes).
    func run(random seed: SoakRandom, until endNs: UInt64) async {
        var random = seed
        while !Task.isCancelled {
            let gap = max(1.0, random.exponential(mean: settings.meanInterval))
            let at = recorder.nowNs() + UInt64(gap * 1e9)
            guard at < endNs else { return }
            try? await Task.sleep(for: .nanoseconds(Int64(at - recorder.nowNs())))
            if Task.isCancelled { return }
            let fault = await inject(random: &random)
            await recorder.record(fault)
        }
    }

    private func inject(random: inout SoakRandom) async -> SoakFault {
        let u = random.unit()
        let kind: SoakFault.Kind =
            settings.diskFullFlag != nil && u < 0.3 ? .diskFull : (random.unit() < 0.55 ? .kill : .pause)
        let children = ProcTable.children(of: upPid)
        let names = children.keys.sorted()
        guard kind == .diskFull || !names.isEmpty else {
            let now = recorder.nowNs()
            return SoakFault(
                kind: kind, target: "none", startNs: now, endNs: now, wholeAgainNs: nil,
                detail: "no child of metro up (pid \(upPid)) found in /proc")
        }
        let target = kind == .diskFull ? "broker" : names[Int(random.unit() * Double(names.count))]
        let pid = children[target] ?? 0
        let start = recorder.nowNs()
        var detail: String
        switch kind {
        case .kill:
            let epoch = await probe.epochs()[target]
            kill(pid, SIGKILL)
            detail = "pid \(pid) killed (SIGKILL)"
            let whole = await probe.waitWhole(recorder: recorder, timeout: settings.wholeTimeout) {
                await self.restarted(target, oldPid: pid, oldEpoch: epoch)
            }
            let now = ProcTable.children(of: upPid)[target]
            detail += now.map { "; restarted as pid \($0)" } ?? "; not running again before the probe gave up"
            if whole == nil { detail += "; NOT whole again within \(settings.wholeTimeout)" }
            return SoakFault(
                kind: kind, target: target, startNs: start, endNs: start, wholeAgainNs: whole, detail: detail)
        case .pause:
            let seconds = 2 + random.unit() * 3
            kill(pid, SIGSTOP)
            active.withLock { $0.paused = pid }
            try? await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
            kill(pid, SIGCONT)
            active.withLock { $0.paused = nil }
            detail = "pid \(pid) stopped (SIGSTOP) for \(String(format: "%.1f", seconds)) s, then SIGCONT"
        case .diskFull:
            let seconds = 3 + random.unit() * 5
            let logStart = logSize()
            setDiskFull(true)
            try? await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
            setDiskFull(false)
            detail = "journal writes (.seg) failed with ENOSPC for \(String(format: "%.1f", seconds)) s"
            let endNs = recorder.nowNs()
            let whole = await probe.waitWhole(recorder: recorder, timeout: settings.wholeTimeout)
            detail += "; " + brokerSaid(since: logStart)
            return SoakFault(
                kind: kind, target: target, startNs: start, endNs: endNs, wholeAgainNs: whole, detail: detail)
        }
        let endNs = recorder.nowNs()
        let whole = await probe.waitWhole(recorder: recorder, timeout: settings.wholeTimeout)
        if whole == nil { detail += "; NOT whole again within \(settings.wholeTimeout)" }
        return SoakFault(kind: kind, target: target, startNs: start, endNs: endNs, wholeAgainNs: whole, detail: detail)
    }

    /// nil once `target` runs again under a new pid and, if it is a service
    /// instance (it had an epoch), is registered again under a new epoch.
    private func restarted(_ target: String, oldPid: Int32, oldEpoch: UInt64?) async -> String? {
        guard let pid = ProcTable.children(of: upPid)[target], pid != oldPid else { return "\(target) restart" }
        guard let oldEpoch else { return nil }
        guard let epoch = await probe.epochs()[target], epoch != oldEpoch else { return "\(target) registration" }
        return nil
    }

    /// Lets a paused process run and gives the disk back (end of run, or cancellation).
    func endAll() {
        let (paused, full) = active.withLock { ($0.paused, $0.diskFull) }
        if let paused { kill(paused, SIGCONT) }
        if full { setDiskFull(false) }
    }

    private func setDiskFull(_ on: Bool) {
        guard let flag = settings.diskFullFlag else { return }
        if on {
            FileManager.default.createFile(atPath: flag, contents: nil)
        } else {
            try? FileManager.default.removeItem(atPath: flag)
        }
        active.withLock { $0.diskFull = on }
    }

    private func logSize() -> UInt64 {
        guard let path = settings.upLog else { return 0 }
        return ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? UInt64) ?? 0
    }

    /// What the broker logged about the full disk since `offset` of `metro up`'s
    /// log: whether it refused acknowledged publishes (ERROR 205) and took events
    /// again by itself.
    private func brokerSaid(since offset: UInt64) -> String {
        guard let path = settings.upLog, let handle = FileHandle(forReadingAtPath: path) else { return "no log" }
        defer { try? handle.close() }
        try? handle.seek(toOffset: offset)
        let text = String(decoding: (try? handle.readToEnd()) ?? Data(), as: UTF8.self)
        let refused = text.contains("refusing acknowledged publishes")
        let recovered = text.contains("journal writes succeed again")
        return
            "broker \(refused ? "refused acknowledged publishes (ERROR 205)" : "logged no refusal (no journal write in the window?)"), "
            + (recovered ? "then took events again by itself" : "no recovery line seen")
    }
}
