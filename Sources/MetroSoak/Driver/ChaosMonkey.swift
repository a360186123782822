import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The faults of `--chaos`, one at a time at seeded times: kill -9 of a
/// component (`metro up` restarts it), SIGSTOP then SIGCONT after 2–5 s, or a
/// full disk for 3–8 s under the broker's journal or under one service's
/// folder (the preloaded libMetroFaultInject.so makes writes to the files the
/// flag file names fail with ENOSPC while that file exists: `.seg`, or every
/// file under `<data>/<service>/`: its database and WAL, the video service's
/// blobs and media scratch files). Each is recorded with the time
/// until the system was whole again (`WholeProbe`); the next fault is drawn only
/// after that.
final class ChaosMonkey: Sendable {
    struct Settings: Sendable {
        /// Mean seconds between faults (the gaps are exponential).
        var meanInterval: Double
        /// The flag file that fills the disk while it exists (nil: no disk faults).
        var diskFullFlag: String?
        /// `metro up`'s log, where the broker says that it refuses and recovers.
        var upLog: String?
        /// `metro up`'s data folder, symlinks resolved (a service's disk fault
        /// names `<dataFolder>/<service>/`); nil: only the service's database.
        var dataFolder: String?
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
        // The disk faults split the same draw: the lower half the broker's journal,
        // the upper half a service's database (so a seed draws the faults it drew
        // before services' disks were filled too, at the same times).
        let services = Set(names.compactMap(Self.serviceName)).sorted()
        let diskService: String? =
            kind == .diskFull && u >= 0.15 && !services.isEmpty
            ? services[min(services.count - 1, Int((u - 0.15) / 0.15 * Double(services.count)))] : nil
        let target =
            kind == .diskFull ? (diskService ?? "broker") : names[Int(random.unit() * Double(names.count))]
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
            let files = diskService.map { Self.serviceFiles($0, dataFolder: settings.dataFolder) } ?? ".seg"
            setDiskFull(true, files: files)
            try? await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
            setDiskFull(false)
            let what = diskService.map { "\($0)'s writes (every file under \(files))" } ?? "journal writes (.seg)"
            detail = "\(what) failed with ENOSPC for \(String(format: "%.1f", seconds)) s"
            let endNs = recorder.nowNs()
            var whole = await probe.waitWhole(recorder: recorder, timeout: settings.wholeTimeout)
            if let diskService, whole != nil {
                // A service that held events is whole once they committed.
                let limit = start + UInt64(settings.wholeTimeout.components.seconds) * 1_000_000_000
                whole = await heldEventsCommitted(since: logStart, notAfter: limit)
                detail += "; " + serviceSaid(diskService, since: logStart)
            } else {
                detail += "; " + brokerSaid(since: logStart)
            }
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

    /// The service of an instance's process name ("profiles-1" → "profiles"); nil
    /// for the broker, registry, gateway and `metro up` itself.
    static func serviceName(_ process: String) -> String? {
        guard let dash = process.lastIndex(of: "-"), process[process.index(after: dash)...].allSatisfy(\.isNumber)
        else { return nil }
        let service = String(process[..<dash])
        return service.isEmpty || ["broker", "registry", "gateway", "up"].contains(service) ? nil : service
    }

    /// The path fragment a disk fault of `service` fills: its whole folder, as one
    /// disk holds a service's database, WAL, blobs and scratch files. Absolute, so
    /// that a data folder whose own path holds `/<service>/` is not matched whole.
    static func serviceFiles(_ service: String, dataFolder: String?) -> String {
        guard let dataFolder else { return "/\(service)/\(service).sqlite" }
        return "\(dataFolder)/\(service)/"
    }

    /// `files`: the path fragment whose writes fail (the flag file's content).
    private func setDiskFull(_ on: Bool, files: String = ".seg") {
        guard let flag = settings.diskFullFlag else { return }
        if on {
            FileManager.default.createFile(atPath: flag, contents: Data((files + "\n").utf8))
        } else {
            try? FileManager.default.removeItem(atPath: flag)
        }
        active.withLock { $0.diskFull = on }
    }

    private func logSize() -> UInt64 {
        guard let path = settings.upLog else { return 0 }
        return ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? UInt64) ?? 0
    }

    /// What the instances of `service` logged about their full disk since `offset`
    /// of `metro up`'s log: whether they refused rpc writes (205) or held events,
    /// and whether a held event committed afterwards.
    private func serviceSaid(_ service: String, since offset: UInt64) -> String {
        let text = logText(since: offset)
        let refused = text.contains("rpc write refused")
        let held = text.contains("the storage refused the event's commit")
        let recovered = text.contains("storage works again")
        let saw = [refused ? "refused rpc writes (205)" : nil, held ? "held events and retried them" : nil]
            .compactMap { $0 }
        return "\(service) "
            + (saw.isEmpty ? "logged no refusal (no write in the window?)" : saw.joined(separator: " and "))
            + (held ? (recovered ? ", then committed them" : ", no recovery line seen") : "")
    }

    /// When the events a service held through its full disk had committed: now if
    /// it held none, else when it logged so (polled every 100 ms); nil if not by
    /// `notAfter` (recorder time).
    private func heldEventsCommitted(since offset: UInt64, notAfter: UInt64) async -> UInt64? {
        while recorder.nowNs() <= notAfter {
            let text = logText(since: offset)
            if !text.contains("the storage refused the event's commit") || text.contains("storage works again") {
                return recorder.nowNs()
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return nil
    }

    private func logText(since offset: UInt64) -> String {
        guard let path = settings.upLog, let handle = FileHandle(forReadingAtPath: path) else { return "" }
        defer { try? handle.close() }
        try? handle.seek(toOffset: offset)
        return String(decoding: (try? handle.readToEnd()) ?? Data(), as: UTF8.self)
    }

    /// What the broker logged about the full disk since `offset` of `metro up`'s
    /// log: whether it refused acknowledged publishes (ERROR 205) and took events
    /// again by itself.
    private func brokerSaid(since offset: UInt64) -> String {
        guard settings.upLog != nil else { return "no log" }
        let text = logText(since: offset)
        let refused = text.contains("refusing acknowledged publishes")
        let recovered = text.contains("journal writes succeed again")
        return
            "broker \(refused ? "refused acknowledged publishes (ERROR 205)" : "logged no refusal (no journal write in the window?)"), "
            + (recovered ? "then took events again by itself" : "no recovery line seen")
    }
}
