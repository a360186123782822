/// Every second, the RSS and CPU time of every long-lived process of the system
/// (the children of its `metro up`, looked up again each time so a restarted
/// component keeps its name under its new pid), into the history.
public struct ProcessSampler: Sendable {
    public let upPid: Int32
    public let recorder: HistoryRecorder

    public init(upPid: Int32, recorder: HistoryRecorder) {
        self.upPid = upPid
        self.recorder = recorder
    }

    /// Samples until the task is cancelled.
    public func run() async {
        while !Task.isCancelled {
            await sampleOnce()
            try? await Task.sleep(for: .seconds(1))
        }
    }

    public func sampleOnce() async {
        let t = recorder.nowNs()
        var samples: [ProcessSample] = []
        var targets = ProcTable.children(of: upPid)
        targets["up"] = upPid
        for (name, pid) in targets.sorted(by: { $0.key < $1.key }) {
            guard let usage = ProcTable.usage(pid) else { continue }
            samples.append(
                ProcessSample(name: name, pid: pid, tNs: t, rssBytes: usage.rssBytes, cpuSeconds: usage.cpuSeconds))
        }
        await recorder.record(samples)
    }
}
