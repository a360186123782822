import Foundation
import Logging
import MetroRuntime
import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Runs one external command (ffprobe, ffmpeg) without holding a pool thread:
/// Foundation's `Process` spawns it and reaps it (its termination handler runs
/// after `waitpid`, so no zombie is left), and the calling task suspends until
/// the termination handler resumes it. stdin is /dev/null; stdout and stderr go
/// to files in `workFolder` (no pipe to drain, so a chatty child cannot block
/// on a full pipe).
///
/// The child is SIGKILLed when `deadline` passes, when the task is cancelled, or
/// on graceful shutdown (SIGTERM to the worker): `run` then throws
/// `CommandRunner.Interrupted` after the child is reaped, so nothing outlives the job.
public enum CommandRunner {
    /// Where a tool's exit that only the kernel reported is logged (`ChildExit`).
    static let logger = Logger(label: "metro.video.command")

    public struct Output: Sendable {
        /// The exit status; for a child ended by a signal, the signal's number.
        public var status: Int32
        /// The signal that ended the child, when one did (never one `run` sent:
        /// those throw `Interrupted`); nil when it exited.
        public var signal: Int32?
        public var stdout: [UInt8]
        public var stderr: String
    }

    /// Why a command did not run to its end.
    public enum Interrupted: Error, Sendable, Equatable {
        /// The deadline passed; the child was killed.
        case timedOut
        /// Cancellation or graceful shutdown; the child was killed.
        case stopped
        /// It could not start (no such executable).
        case cannotStart(String)
    }

    public static func run(
        _ executable: String, _ arguments: [String], workFolder: String, deadline: ContinuousClock.Instant
    ) async throws -> Output {
        let outPath = "\(workFolder)/stdout-\(UUID().uuidString)"
        let errPath = "\(workFolder)/stderr-\(UUID().uuidString)"
        defer {
            unlink(outPath)
            unlink(errPath)
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try resolve(executable))
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        let exited = AsyncStream.makeStream(of: ChildExit.Status.self, bufferingPolicy: .bufferingNewest(1))
        let reason = Killed()
        process.terminationHandler = { p in
            // Reaped: never signal its pid again (it may be another process's by now).
            reason.exited(bySignal: p.terminationReason == .uncaughtSignal)
            exited.continuation.yield(.init(code: p.terminationStatus, exited: p.terminationReason == .exit))
            exited.continuation.finish()
        }
        // The output files are opened and the child spawned under `ChildExit.spawning`:
        // jobs run side by side, and a tool spawned at the same instant could inherit
        // this one's descriptors, so that its end went unseen until that one ended.
        try ChildExit.spawning.withLock { _ throws(Interrupted) in
            _ = FileManager.default.createFile(atPath: outPath, contents: nil)
            _ = FileManager.default.createFile(atPath: errPath, contents: nil)
            guard let out = FileHandle(forWritingAtPath: outPath), let err = FileHandle(forWritingAtPath: errPath)
            else {
                throw Interrupted.cannotStart("cannot create output files in \(workFolder)")
            }
            defer {
                try? out.close()
                try? err.close()
            }
            process.standardOutput = out
            process.standardError = err
            do {
                try process.run()
            } catch {
                throw Interrupted.cannotStart("cannot run \(executable): \(error)")
            }
        }
        let pid = process.processIdentifier
        let status: Int32 = await withTaskCancellationOrGracefulShutdownHandler {
            await withTaskGroup(of: Int32?.self) { race in
                race.addTask {
                    let status = await ChildExit.wait(
                        pid: pid, name: executable, reported: exited.stream, logger: Self.logger)
                    reason.exited(bySignal: !status.exited)
                    return status.code
                }
                race.addTask {
                    try? await Task.sleep(until: deadline, clock: .continuous)
                    if !Task.isCancelled { reason.kill(pid, .timedOut) }
                    return nil
                }
                var status: Int32 = -1
                for await result in race {
                    if let result {
                        status = result
                        race.cancelAll()
                    }
                }
                return status
            }
        } onCancelOrGracefulShutdown: {
            reason.kill(pid, .stopped)
        }
        if let why = reason.why { throw why }
        let stdout = (try? Data(contentsOf: URL(fileURLWithPath: outPath))).map { [UInt8]($0) } ?? []
        let stderr = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        let signal = reason.endedBySignal ? status : nil
        return Output(status: status, signal: signal, stdout: stdout, stderr: stderr)
    }

    /// `name` as given when it has a slash, else the first match on PATH.
    static func resolve(_ name: String) throws -> String {
        if name.contains("/") {
            guard access(name, X_OK) == 0 else {
                throw Interrupted.cannotStart("\(name) cannot be run: \(String(cString: strerror(errno)))")
            }
            return name
        }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for folder in path.split(separator: ":") where access("\(folder)/\(name)", X_OK) == 0 {
            return "\(folder)/\(name)"
        }
        throw Interrupted.cannotStart("\(name) is not on PATH")
    }

    /// Remembers the first reason a child was killed, and kills it at most once,
    /// never after its termination handler ran (its pid may then be another
    /// process's). The window left is between Foundation's `waitpid` and that
    /// handler, a few instructions on Foundation's monitoring thread.
    private final class Killed: @unchecked Sendable {
        private let lock = NSLock()
        private var reason: Interrupted?
        private var gone = false

        private var bySignal = false

        func exited(bySignal: Bool) {
            lock.lock()
            defer { lock.unlock() }
            gone = true
            self.bySignal = bySignal
        }

        /// Whether the child ended by a signal (read after its termination handler ran).
        var endedBySignal: Bool {
            lock.lock()
            defer { lock.unlock() }
            return bySignal
        }

        func kill(_ pid: Int32, _ why: Interrupted) {
            lock.lock()
            defer { lock.unlock() }
            guard reason == nil, !gone else { return }
            reason = why
            _ = Glibc.kill(pid, SIGKILL)
        }

        var why: Interrupted? {
            lock.lock()
            defer { lock.unlock() }
            return reason
        }
    }
}
