import Foundation
import Logging
import MetroRuntime
import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Runs one external command (ffprobe, ffmpeg) without holding a pool thread:
/// `ChildSpawn` starts it (posix_spawn, not Foundation's `Process`: see there
/// why) and reaps it on a thread of its own, and the calling task suspends until
/// then. stdin is /dev/null; stdout and stderr go to files in `workFolder` (no
/// pipe to drain, so a chatty child cannot block on a full pipe).
///
/// The child is SIGKILLed when `deadline` passes, when the task is cancelled, or
/// on graceful shutdown (SIGTERM to the worker): `run` then throws
/// `CommandRunner.Interrupted` after the child is reaped, so nothing outlives the job.
public enum CommandRunner {
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
        let reason = Killed()
        let path = try resolve(executable)
        let child: ChildSpawn.Spawned
        do {
            child = try ChildSpawn.spawn(path, arguments, stdout: .file(outPath), stderr: .file(errPath))
        } catch {
            throw Interrupted.cannotStart("cannot run \(executable) (its output in \(workFolder)): \(error)")
        }
        let pid = child.pid
        let status: Int32 = await withTaskCancellationOrGracefulShutdownHandler {
            await withTaskGroup(of: Int32?.self) { race in
                race.addTask {
                    // Recorded before the reap: no kill can reach the pid after.
                    let status = await ChildSpawn.exit(of: pid) { reason.exited(bySignal: !$0.exited) }
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
    /// never once its death was recorded (`exited`, called before the reap: its
    /// pid is then still the zombie's, never another process's).
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
