public import Foundation
public import Logging
import MetroKit
import MetroProtocol
import Synchronization
import VideoProcessing

/// `metro soak` from start to verdict: starts the system (`metro up`, one
/// child) or attaches to one, starts the checker, drives the load (and the
/// chaos, and the sampler) for the duration, then quiesces (no new
/// operations, faults undone, the system whole again), lets the checker
/// finish, and writes the report and the history. Returns the exit status:
/// 0 every invariant holds, 1 one does not.
public final class SoakDriver: Sendable {
    private let options: SoakRunOptions
    private let logger: Logger
    /// The running load and chaos tasks, cancelled by `requestStop` (SIGINT).
    private let running = Mutex<[Task<Void, Never>]>([])
    private let stopped = Atomic<Bool>(false)

    public init(options: SoakRunOptions, logger: Logger) {
        self.options = options
        self.logger = logger
    }

    /// Ends the load and the chaos early (Ctrl-C); the run still quiesces,
    /// checks and writes its report.
    public func requestStop() {
        stopped.store(true, ordering: .relaxed)
        for task in running.withLock({ $0 }) { task.cancel() }
    }

    public func run() async throws -> Int32 {
        try FileManager.default.createDirectory(atPath: options.outFolder, withIntermediateDirectories: true)
        let setup = try await SoakSetup.make(options: options, logger: logger)
        do {
            let status = try await drive(setup)
            await setup.tearDown()
            return status
        } catch {
            await setup.tearDown()
            throw error
        }
    }

    private func drive(_ setup: SoakSetup) async throws -> Int32 {
        let topology = setup.topology
        let stats = try await offThePool("metro-soak-stats") {
            try BrokerAdminClient(consumeEndpoint: topology.consume, curve: topology.security?.broker).stats()
        }
        let clients = try SoakClients(topology: topology, logger: logger)
        let probe = try WholeProbe(topology: topology, registry: clients.registry, http: clients.http)
        let recorder = HistoryRecorder(startSeq: stats.headSeq)
        let checker = SoakChecker(endpoints: topology.checkerEndpoints, logger: logger)
        try await checker.start(fromSeq: stats.headSeq + 1)
        var random = SoakRandom(seed: options.seed)
        let loadRandom = random.split()
        let chaosRandom = random.split()
        let operations = SoakOperations(
            clients: clients, state: LoadState(random: random.split()), recorder: recorder, checker: checker,
            clip: setup.clip, seed: options.seed)
        let sampler = topology.upPid.map { ProcessSampler(upPid: $0, recorder: recorder) }
        var background: [Task<Void, Never>] = [Task { await sampler?.run() }]
        logger.notice("warming up: a few users and videos before the timed load")
        try await warmUp(operations)
        let loadStartNs = recorder.nowNs()
        let endNs = loadStartNs + UInt64(options.durationSeconds * 1e9)
        let progress = SoakProgress(
            recorder: recorder, checker: checker, durationSeconds: options.durationSeconds, loadStartNs: loadStartNs)
        background.append(Task { await progress.run() })
        let load = SoakLoad(
            operations: operations, mix: options.mix, rate: options.rate, concurrency: options.concurrency)
        var monkey: ChaosMonkey?
        if options.chaos, let upPid = topology.upPid {
            monkey = ChaosMonkey(
                settings: .init(
                    meanInterval: options.faultInterval, diskFullFlag: setup.diskFullFlag, upLog: setup.upLog,
                    dataFolder: setup.diskFullFlag == nil
                        ? nil : URL(fileURLWithPath: setup.dataFolder).resolvingSymlinksInPath().path),
                upPid: upPid, probe: probe, recorder: recorder)
        }
        let tasks: [Task<Void, Never>] = [
            Task { await load.run(random: loadRandom, until: endNs) },
            Task { [monkey] in await monkey?.run(random: chaosRandom, until: endNs) },
        ]
        running.withLock { $0 = tasks }
        if stopped.load(ordering: .relaxed) { requestStop() }
        for task in tasks { await task.value }
        // Quiesce: no fault left standing, the system whole again.
        monkey?.endAll()
        logger.notice("load ended; waiting for the system to be whole, then the checker")
        // After Ctrl-C the terminal's SIGINT may have stopped `metro up` too: do not wait long.
        let patience: Duration = stopped.load(ordering: .relaxed) ? .seconds(10) : .seconds(90)
        if await probe.waitWhole(recorder: recorder, timeout: patience) == nil {
            let missing = await probe.missing()
            logger.error("the system is not whole \(patience) after the load: \(missing)")
        }
        await sampler?.sampleOnce()
        for task in background { task.cancel() }
        for task in background { await task.value }
        let history = await recorder.finished()
        let result = await checker.finish(history: history, drainTimeout: options.drainTimeout)
        await probe.close()
        await clients.close()
        var configuration = SoakConfiguration(
            seed: options.seed, targetRate: options.rate, durationSeconds: options.durationSeconds,
            chaos: options.chaos, attached: options.attach, realMedia: options.realMedia,
            throughGateway: topology.gateway != nil, mix: options.mix.asDictionary,
            instances: topology.instanceCounts, dataFolder: setup.dataFolder,
            host: ProcessInfo.processInfo.hostName, cores: ProcessInfo.processInfo.activeProcessorCount)
        configuration.secure = topology.security != nil
        if options.attach { configuration.attachFlags = options.attachFlags }
        let report = SoakReport.build(
            configuration: configuration, history: history, checker: result, finishedAt: Date())
        try write(report: report, history: history)
        FileHandle.standardError.write(Data((report.terminalSummary() + "\n").utf8))
        FileHandle.standardError.write(
            Data("report: \(options.outFolder)/soak-report.{json,md,html}, history.json\n".utf8))
        return report.passed ? 0 : 1
    }

    /// A few users and uploads before the clock starts, and up to 20 s for a
    /// first processed video, so that views have something to watch.
    ///
    /// Throws when every warm-up upload failed and none was processed: views
    /// (60% of the mix) and recommendations pick processed videos, so the run
    /// would send neither and still pass. The usual cause is an attached
    /// system whose video workers process real media (a plain `metro up`)
    /// while the soak uploads synthetic bytes.
    private func warmUp(_ operations: SoakOperations) async throws {
        for _ in 0..<5 { await operations.run(.signUp) }
        for _ in 0..<2 { await operations.run(.upload) }
        let deadline = ContinuousClock.now + .seconds(20)
        var failures: [String] = []
        while await operations.state.processedCount == 0, ContinuousClock.now < deadline,
            !stopped.load(ordering: .relaxed)
        {
            let pending = await operations.state.pending
            var processed: [String] = []
            var failed: [String] = []
            for id in pending {
                guard
                    let video = try? await operations.clients.video.call(
                        VideoAPI.get, GetVideoRequest(videoId: id), deadline: .seconds(2))
                else { continue }
                if video.status == .processed { processed.append(id) }
                if video.status == .failed {
                    failed.append(id)
                    failures.append(video.failureReason ?? "no reason given")
                }
            }
            await operations.state.settled(processed: processed, failed: failed)
            if processed.isEmpty, await operations.state.pending.isEmpty, !failures.isEmpty {
                throw SoakSetupError(Self.everyUploadFailed(failures, realMedia: options.realMedia))
            }
            try? await Task.sleep(for: .milliseconds(250))
        }
    }

    static func everyUploadFailed(_ reasons: [String], realMedia: Bool) -> String {
        let first = reasons[0].split(separator: "\n").first.map(String.init) ?? reasons[0]
        let why = "the system failed every warm-up upload (\(reasons.count); the first: \(first.prefix(120)))"
        return realMedia
            ? why + ", so no video would be viewed or recommended: see the video workers' log"
            : why + ", so no video would be viewed or recommended. The soak uploads synthetic bytes, which only "
                + "video workers started with --synthetic-work-ms process (as the system the soak starts itself is); "
                + "a system that processes real media needs --real-media"
    }

    private func write(report: SoakReport, history: SoakHistory) throws {
        let folder = URL(fileURLWithPath: options.outFolder)
        try report.json().write(to: folder.appendingPathComponent("soak-report.json"))
        try Data(report.markdown().utf8).write(to: folder.appendingPathComponent("soak-report.md"))
        try Data(report.html().utf8).write(to: folder.appendingPathComponent("soak-report.html"))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        try encoder.encode(history).write(to: folder.appendingPathComponent("history.json"))
    }
}
