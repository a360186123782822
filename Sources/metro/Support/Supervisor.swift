import Foundation
import Logging
import MetroRuntime
import ServiceLifecycle
import Synchronization

struct ChildSpec: Sendable {
    let name: String
    let arguments: [String]
    /// Dependency order: a child depends on the children of lower stages
    /// (broker 0, registry 1, service workers 2). Shutdown stops the highest
    /// stage first and the next one only when all of it has exited.
    var stage = 0
}

/// Keeps child `metro` processes running: starts each, restarts one that exits
/// (after a short back-off so a crash loop does not spin), and on graceful
/// shutdown stops them in reverse dependency order (`ChildSpec.stage`): SIGTERM
/// to every child of the highest stage, and to the next stage once those have
/// all exited, so that workers drain while the broker still takes their ACKs.
///
/// Each child's output passes through `ChildOutput`, every line prefixed with its
/// name; its `ready {json}` line is not passed on but handed to `onReady` (with
/// `restarted` true after a restart), so that `metro up` prints one ready line of
/// its own. A child that exits with `SetupError.exitStatus` (78) cannot run as
/// configured (an endpoint it cannot bind, a tool that is missing): restarting it
/// would only loop, so the supervisor stops every child and fails with
/// `ChildFailed`. So does a child that exits `startAttempts` times in a row
/// without ever having been ready (a corrupt database, a broken file): a system
/// that cannot start says why and stops, instead of restarting that child every
/// 5 s for good (`ChildNeverReady`, with the child's last stderr line). A child
/// that was ready once is restarted however often it fails: a disk that fills
/// and empties, a killed worker, are faults the system outlives.
final class Supervisor: Service, @unchecked Sendable {
    private let children: [ChildSpec]
    private let logger: Logger
    private let onReady: @Sendable (_ child: String, _ fields: [String: String], _ restarted: Bool) -> Void
    /// Called after a child exited unexpectedly, before its restart (`DeadInstanceReaper`).
    private let onDeath: @Sendable (_ child: String) async -> Void
    /// How long a stage may take to exit after SIGTERM before its children get SIGKILL.
    private let stopTimeout: Duration
    /// How many exits in a row, without a ready line ever, end the system.
    private let startAttempts: Int
    /// The children's live processes and, once shutdown began, the stage being stopped.
    private let state = Mutex<(running: [String: WatchedChild], stopStage: Int?)>(([:], nil))
    /// The children whose current process has printed its ready line.
    private let ready = Mutex<Set<String>>([])
    /// The children that have printed a ready line at least once.
    private let everReady = Mutex<Set<String>>([])
    private let stopping = Atomic<Bool>(false)
    /// Each child's starts, readiness and last exit (`<data>/up.status.json`, `metro top`).
    let board: UpStatusBoard
    /// The children log JSON (`--log-format json`): their lines pass on as JSON.
    private let jsonLogs: Bool
    /// systemd's notifier when `metro up` runs as a `Type=notify` unit: a child's
    /// exit and its return are told as `STATUS=` (the board's summary).
    private let notifier: SystemdNotifier?
    /// `METRO_FAULT_HIDE_CHILD_EXITS=1`, for tests: each child is started by
    /// `/bin/sh` beside a `sleep 30` that keeps copies of its descriptors, as a
    /// leaked copy would. With Foundation's `Process` that hid the child's death
    /// for 30 s; `ChildSpawn` learns of it from the kernel whatever holds them.
    private static let exitsHidden = ProcessInfo.processInfo.environment["METRO_FAULT_HIDE_CHILD_EXITS"] == "1"

    init(
        children: [ChildSpec], logger: Logger, stopTimeout: Duration = .seconds(30), startAttempts: Int = 5,
        statusFolder: String? = nil, jsonLogs: Bool = false, notifier: SystemdNotifier? = nil,
        onDeath: @escaping @Sendable (String) async -> Void = { _ in },
        onReady: @escaping @Sendable (String, [String: String], Bool) -> Void = { _, _, _ in }
    ) {
        self.children = children
        self.board = UpStatusBoard(children: children.map(\.name), dataFolder: statusFolder)
        self.jsonLogs = jsonLogs
        self.notifier = notifier
        self.onDeath = onDeath
        self.stopTimeout = stopTimeout
        self.startAttempts = max(1, startAttempts)
        self.logger = logger
        self.onReady = onReady
    }

    /// A child that cannot start for a reason a restart does not fix.
    struct ChildFailed: Error, CustomStringConvertible {
        let child: String
        let status: Int32
        var description: String {
            "\(child) cannot run as configured (exit status \(status); its error is above): not restarting it, stopping the system"
        }
    }

    /// A child that exited at every start, never ready: a restart does not fix what it hits.
    struct ChildNeverReady: Error, CustomStringConvertible {
        let child: String
        let attempts: Int
        /// How the last attempt ended: `exit status 1`, `signal 11`.
        let ending: String
        /// The last line the child wrote to stderr, when it wrote one.
        let lastError: String?
        var description: String {
            let words = lastError.map { "; its last line: \($0)" } ?? ""
            return
                "\(child) was never ready: it exited at each of \(attempts) starts in a row (the last with \(ending)\(words)). Not restarting it, stopping the system"
        }
    }

    func run() async throws {
        let executable = URL(fileURLWithPath: SelfExecutable.path)
        // Nothing runs once this returns (or throws): no status to read.
        defer { board.remove() }
        try await withGracefulShutdownHandler {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for child in children {
                    group.addTask { try await self.keepRunning(child, executable: executable) }
                }
                try await group.waitForAll()
            }
        } onGracefulShutdown: {
            self.stopAll()
        }
    }

    /// Sends `signal` to every child that is running and has printed its ready
    /// line (a child still starting may not handle it yet); their names, sorted.
    func signalReadyChildren(_ signal: Int32) -> [String] {
        let readyNow = ready.withLock { $0 }
        let targets: [(String, WatchedChild)] = state.withLock { state in
            state.running.filter { readyNow.contains($0.key) && $0.value.isRunning }.map { ($0.key, $0.value) }
        }
        for (_, process) in targets { process.signal(signal) }
        return targets.map(\.0).sorted()
    }

    private func stopAll() {
        stopping.store(true, ordering: .releasing)
        let top = children.map(\.stage).max() ?? 0
        stop(stage: top)
    }

    /// Sends SIGTERM to the running children of `stage`; when none runs, goes on to the stage below.
    private func stop(stage: Int) {
        var next: Int? = stage
        while let current = next {
            let targets: [WatchedChild] = state.withLock { state in
                state.stopStage = min(state.stopStage ?? current, current)
                return children.filter { $0.stage == current }.compactMap { state.running[$0.name] }
                    .filter(\.isRunning)
            }
            if !targets.isEmpty {
                logger.info("stopping stage \(current)", metadata: ["pids": "\(targets.map(\.pid))"])
                for process in targets { process.signal(SIGTERM) }
                killAfterTimeout(targets, stage: current)
                return
            }
            next = current > 0 ? current - 1 : nil
        }
    }

    /// A child that does not exit within `stopTimeout` of its SIGTERM (hung, or
    /// stopped with SIGSTOP) gets SIGKILL, so that shutdown ends and leaves no
    /// process behind; its exit then moves shutdown to the stage below.
    private func killAfterTimeout(_ targets: [WatchedChild], stage: Int) {
        Task { [logger, stopTimeout] in
            try? await Task.sleep(for: stopTimeout)
            for process in targets where process.isRunning {
                logger.error(
                    "stage \(stage) child did not stop in \(stopTimeout): killing it",
                    metadata: ["pid": "\(process.pid)"])
                process.signal(SIGKILL)
            }
        }
    }

    /// After a child exited during shutdown: when its stage is empty, stops the one below.
    private func exitedWhileStopping(_ child: ChildSpec) {
        let stageDone: Bool = state.withLock { state in
            state.running[child.name] = nil
            return !children.contains { $0.stage == child.stage && state.running[$0.name] != nil }
                && state.stopStage == child.stage
        }
        if stageDone && child.stage > 0 { stop(stage: child.stage - 1) }
    }

    private func keepRunning(_ child: ChildSpec, executable: URL) async throws {
        var backoff = Duration.milliseconds(200)
        var starts = 0
        // Exits in a row while this child has never been ready since the supervisor began.
        var failedStarts = 0
        while !stopping.load(ordering: .acquiring) {
            // The child stops by itself if this process dies, even by -9 (SupervisorWatch).
            // Without systemd's variables: the service manager hears from `metro up` alone.
            let environment = SystemdNotifier.childEnvironment(ProcessInfo.processInfo.environment).merging(
                [SupervisorWatch.environmentKey: "\(getpid())"]) { _, new in new }
            let (path, arguments) =
                Self.exitsHidden
                ? ("/bin/sh", ["-c", "sleep 30 & exec \"$0\" \"$@\"", executable.path] + child.arguments)
                : (executable.path, child.arguments)
            let restarted = starts > 0
            ready.withLock { _ = $0.remove(child.name) }
            let output = ChildOutput(name: child.name, json: jsonLogs) { [onReady, self] fields in
                self.ready.withLock { _ = $0.insert(child.name) }
                self.everReady.withLock { _ = $0.insert(child.name) }
                self.board.ready(child.name)
                if restarted { self.notifier?.send(["STATUS=\(self.board.current.summary)"], logger: self.logger) }
                onReady(child.name, fields, restarted)
            }
            let spawned = try ChildSpawn.spawn(path, arguments, environment: environment, stdout: .pipe, stderr: .pipe)
            output.start(stdout: spawned.stdout!, stderr: spawned.stderr!)
            let process = WatchedChild(spawned)
            starts += 1
            board.started(child.name, pid: process.pid)
            // Shutdown may have begun while it started: then it stops with its stage.
            let lateStart = state.withLock { state in
                state.running[child.name] = process
                return state.stopStage.map { child.stage >= $0 } ?? false
            }
            if lateStart { process.signal(SIGTERM) }
            logger.info("started \(child.name)", metadata: ["pid": "\(process.pid)"])
            let started = ContinuousClock.now
            let exit = await process.exit()
            let status = exit.code
            output.finish()
            let ending = exit.exited ? "exit status \(status)" : "signal \(status)"
            if stopping.load(ordering: .acquiring) {
                exitedWhileStopping(child)
                break
            }
            state.withLock { $0.running[child.name] = nil }
            if exit.exited && status == SetupError.exitStatus {
                let failure = ChildFailed(child: child.name, status: status)
                logger.critical("\(failure)")
                stopAll()
                throw failure
            }
            failedStarts += 1
            if failedStarts >= startAttempts && !everReady.withLock({ $0.contains(child.name) }) {
                // Its last words may still be in the pipe: wait for the end of its output, briefly.
                await output.ended(within: .seconds(1))
                let failure = ChildNeverReady(
                    child: child.name, attempts: failedStarts, ending: ending, lastError: output.lastErrorLine)
                logger.critical("\(failure)")
                stopAll()
                throw failure
            }
            // After an exit (not a signal) its last stderr line says why, next to the
            // exit (a grandchild holding the pipes would keep them open: wait a moment only).
            var metadata: Logger.Metadata = ["backoff": "\(backoff)"]
            if exit.exited {
                await output.ended(within: .milliseconds(200))
                if let last = output.lastErrorLine { metadata["last-line"] = "\(last)" }
            }
            board.exited(
                child.name, ending: exit.exited ? "exit status \(status)" : "killed by signal \(status)",
                lastLine: exit.exited ? output.lastErrorLine : nil)
            notifier?.send(["STATUS=\(board.current.summary)"], logger: logger)
            logger.error(
                "\(child.name) \(exit.exited ? "exited with status \(status)" : "was killed by signal \(status)"); restarting",
                metadata: metadata)
            await onDeath(child.name)
            // A child that ran for a while gets a fresh back-off; a crash loop backs off up to 5 s.
            backoff = ContinuousClock.now - started > .seconds(10) ? .milliseconds(200) : min(backoff * 2, .seconds(5))
            try await Task.sleep(for: backoff)
        }
    }
}
