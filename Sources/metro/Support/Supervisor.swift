import Foundation
import Logging
import ServiceLifecycle
import Synchronization

struct ChildSpec: Sendable {
    let name: String
    let arguments: [String]
}

/// Keeps child `metro` processes running: starts each, restarts one that exits
/// (after a short back-off so a crash loop does not spin), and on graceful
/// shutdown sends SIGTERM to all and waits for them.
///
/// Each child's output passes through `ChildOutput`, every line prefixed with its
/// name; its `ready {json}` line is not passed on but handed to `onReady` (with
/// `restarted` true after a restart), so that `metro up` prints one ready line of
/// its own. A child that exits with `EndpointUnavailable.exitStatus` cannot bind
/// an endpoint: restarting it would only loop, so the supervisor stops every
/// child and fails with `ChildFailed`.
final class Supervisor: Service, @unchecked Sendable {
    private let children: [ChildSpec]
    private let logger: Logger
    private let onReady: @Sendable (_ child: String, _ fields: [String: String], _ restarted: Bool) -> Void
    private let running = Mutex<[String: Process]>([:])
    private let stopping = Atomic<Bool>(false)

    init(
        children: [ChildSpec], logger: Logger,
        onReady: @escaping @Sendable (String, [String: String], Bool) -> Void = { _, _, _ in }
    ) {
        self.children = children
        self.logger = logger
        self.onReady = onReady
    }

    /// A child that cannot start for a reason a restart does not fix.
    struct ChildFailed: Error, CustomStringConvertible {
        let child: String
        let status: Int32
        var description: String {
            "\(child) cannot bind one of its endpoints (exit status \(status); its error is above): not restarting it"
        }
    }

    func run() async throws {
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL
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

    private func stopAll() {
        stopping.store(true, ordering: .releasing)
        for (_, process) in running.withLock({ $0 }) where process.isRunning {
            kill(process.processIdentifier, SIGTERM)
        }
    }

    private func keepRunning(_ child: ChildSpec, executable: URL) async throws {
        var backoff = Duration.milliseconds(200)
        var starts = 0
        while !stopping.load(ordering: .acquiring) {
            let process = Process()
            process.executableURL = executable
            process.arguments = child.arguments
            // The child stops by itself if this process dies, even by -9 (SupervisorWatch).
            process.environment = ProcessInfo.processInfo.environment.merging(
                [SupervisorWatch.environmentKey: "\(getpid())"]) { _, new in new }
            let restarted = starts > 0
            let output = ChildOutput(name: child.name) { [onReady] fields in
                onReady(child.name, fields, restarted)
            }
            output.attach(to: process)
            let exited = AsyncStream<Int32>.makeStream()
            process.terminationHandler = { p in
                exited.continuation.yield(p.terminationStatus)
                exited.continuation.finish()
            }
            try process.run()
            starts += 1
            running.withLock { $0[child.name] = process }
            logger.info("started \(child.name)", metadata: ["pid": "\(process.processIdentifier)"])
            let started = ContinuousClock.now
            var status: Int32 = -1
            for await s in exited.stream { status = s }
            output.finish()
            if stopping.load(ordering: .acquiring) { break }
            if process.terminationReason == .exit && status == EndpointUnavailable.exitStatus {
                let failure = ChildFailed(child: child.name, status: status)
                logger.critical("\(failure)")
                stopAll()
                throw failure
            }
            logger.error("\(child.name) exited with status \(status); restarting", metadata: ["backoff": "\(backoff)"])
            // A child that ran for a while gets a fresh back-off; a crash loop backs off up to 5 s.
            backoff = ContinuousClock.now - started > .seconds(10) ? .milliseconds(200) : min(backoff * 2, .seconds(5))
            try await Task.sleep(for: backoff)
        }
    }
}
