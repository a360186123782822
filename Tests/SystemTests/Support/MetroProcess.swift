import Foundation
import Synchronization
import ZeroMQ

#if canImport(Glibc)
    import Glibc
#endif

/// A real `metro` process started by a test, on loopback, with ephemeral ports.
///
/// Readiness is an event, not a sleep: every long-running `metro` command prints
/// one line `ready {json}` on standard output once all its sockets are bound (see
/// docs/operations.md, "Readiness line"); `waitUntilReady` returns that JSON,
/// which holds the endpoints actually bound. The process is killed when the
/// `MetroProcess` is released, so a failing test never leaves one behind.
final class MetroProcess: @unchecked Sendable {
    let process = Process()
    let arguments: [String]
    private let stdout = Pipe()
    private let stderr = Pipe()
    private let state = Mutex(State())
    private let readySignal = DispatchSemaphore(value: 0)

    private struct State {
        var lines: [String] = []
        var stderrText = ""
        var ready: [String: String]?
        /// End of file seen on stdout, stderr: everything the process wrote has been read.
        var stdoutClosed = false
        var stderrClosed = false
    }

    /// The `metro` binary next to the test bundle (or `METRO_BIN`).
    static var binary: URL {
        if let path = ProcessInfo.processInfo.environment["METRO_BIN"] { return URL(fileURLWithPath: path) }
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        var dir = bundle
        // On Linux the test runner is `<build>/debug/MetroPackageTests.xctest`; metro sits beside it.
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("metro")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return bundle.appendingPathComponent("metro")
    }

    /// `shell`: commands `/bin/sh` runs before it execs metro in its place (same
    /// pid), e.g. `ulimit -S -n 64` to start it under a low open-files limit.
    init(_ arguments: [String], environment: [String: String] = [:], shell: String? = nil) throws {
        self.arguments = arguments
        if let shell {
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", shell + "; exec \"$0\" \"$@\"", Self.binary.path] + arguments
        } else {
            process.executableURL = Self.binary
            process.arguments = arguments
        }
        var env = ProcessInfo.processInfo.environment
        env.merge(environment) { $1 }
        process.environment = env
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        // End of file on both pipes tells `waitForExit` that all output has been read.
        Self.readUntilEOF(
            stdout.fileHandleForReading, name: "test-stdout",
            atEnd: { [weak self] in self?.state.withLock { $0.stdoutClosed = true } }
        ) { [weak self] text in
            self?.consumeStdout(text)
        }
        Self.readUntilEOF(
            stderr.fileHandleForReading, name: "test-stderr",
            atEnd: { [weak self] in self?.state.withLock { $0.stderrClosed = true } }
        ) { [weak self] text in
            self?.state.withLock { $0.stderrText += text }
        }
    }

    /// Reads `handle` with blocking reads on a thread of its own until end of file.
    /// Not `readabilityHandler`: tearing its dispatch read source down while others
    /// are set up races in libdispatch's epoll bookkeeping on Linux and crashed the
    /// test process (SIGSEGV in `_dispatch_event_loop_drain`, seen in a full run;
    /// swift-corelibs-libdispatch issue 949). The thread holds the handle, so its fd
    /// stays open (and is never reused under the read) until the child and whatever
    /// inherited the pipe have exited.
    private static func readUntilEOF(
        _ handle: FileHandle, name: String, atEnd: @escaping @Sendable () -> Void,
        _ consume: @escaping @Sendable (String) -> Void
    ) {
        DedicatedThread(name: name) {
            var buffer = [UInt8](repeating: 0, count: 64 * 1024)
            while true {
                let n = buffer.withUnsafeMutableBytes { read(handle.fileDescriptor, $0.baseAddress, $0.count) }
                if n > 0 {
                    consume(String(decoding: buffer[0..<n], as: UTF8.self))
                } else if n < 0 && errno == EINTR {
                    continue
                } else {
                    atEnd()
                    return
                }
            }
        }.start()
    }

    private var partial = ""
    private func consumeStdout(_ text: String) {
        var becameReady = false
        state.withLock { s in
            partial += text
            while let nl = partial.firstIndex(of: "\n") {
                let line = String(partial[..<nl])
                partial = String(partial[partial.index(after: nl)...])
                s.lines.append(line)
                if s.ready == nil, line.hasPrefix("ready "),
                    let data = line.dropFirst(6).data(using: .utf8),
                    let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
                {
                    s.ready = obj.mapValues { "\($0)" }
                    becameReady = true
                }
            }
        }
        if becameReady { readySignal.signal() }
    }

    /// Waits for the readiness line; throws if the process exits first or the deadline passes.
    @discardableResult
    func waitUntilReady(timeout: Duration = .seconds(30)) throws -> [String: String] {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let r = state.withLock({ $0.ready }) { return r }
            if !process.isRunning {
                throw MetroProcessError.exited(status: process.terminationStatus, stderr: stderrText)
            }
            _ = readySignal.wait(timeout: .now() + .milliseconds(100))
        }
        throw MetroProcessError.notReady(stderr: stderrText)
    }

    var stdoutLines: [String] { state.withLock { $0.lines } }
    var stderrText: String { state.withLock { $0.stderrText } }
    var pid: Int32 { process.processIdentifier }

    /// Sends `signal` (SIGKILL for a crash, SIGTERM for a graceful stop).
    func kill(_ signal: Int32 = SIGKILL) {
        if process.isRunning { Glibc.kill(process.processIdentifier, signal) }
    }

    /// Freezes the process (SIGSTOP) and waits until the kernel reports it stopped.
    /// `kill` returns before every thread has stopped (on a VM a thread running on the
    /// other core can still answer a request for a moment), so a test that needs a
    /// silent peer waits for state `T` in /proc.
    func freeze() throws {
        Glibc.kill(process.processIdentifier, SIGSTOP)
        try waitFor("process \(pid) stopped", timeout: .seconds(5), interval: .milliseconds(1)) {
            let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
            return !tasks.isEmpty
                && tasks.allSatisfy { tid in
                    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/task/\(tid)/stat", encoding: .utf8),
                        let close = stat.lastIndex(of: ")")
                    else { return false }
                    let state = stat[stat.index(close, offsetBy: 2)]
                    return state == "T" || state == "t"
                }
        }
    }

    /// Waits for the process to exit, up to `timeout`; returns its exit status or nil.
    @discardableResult
    func waitForExit(timeout: Duration = .seconds(15)) -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline {
            usleep(10_000)
        }
        if process.isRunning { return nil }
        // Exited, but its last writes may still be in the pipes, not yet in
        // `stderrText`: a test that checked stderr right after the exit status
        // failed now and then (4 runs in 15). Wait for end of file on both, for
        // at most 2 s: a child that inherited them (under `metro up`) holds them open.
        let drained = ContinuousClock.now + .seconds(2)
        while !state.withLock({ $0.stdoutClosed && $0.stderrClosed }) && ContinuousClock.now < drained {
            usleep(1000)
        }
        return process.terminationStatus
    }

    deinit {
        if process.isRunning {
            Glibc.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}

enum MetroProcessError: Error, CustomStringConvertible {
    case exited(status: Int32, stderr: String)
    case notReady(stderr: String)

    var description: String {
        switch self {
        case .exited(let status, let err): "metro exited with status \(status) before it was ready:\n\(err)"
        case .notReady(let err): "metro was not ready in time:\n\(err)"
        }
    }
}

/// A fresh temporary folder for one test, removed when released.
final class TemporaryDirectory: @unchecked Sendable {
    let url: URL
    var path: String { url.path }

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("metro-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }
}

/// Waits for `condition` to hold, polling every `interval`, up to `timeout` (nats' `checkFor`).
func waitFor(
    _ what: String, timeout: Duration = .seconds(10), interval: Duration = .milliseconds(20),
    _ condition: () throws -> Bool
) throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try condition() { return }
        Thread.sleep(
            forTimeInterval: Double(interval.components.attoseconds) / 1e18 + Double(interval.components.seconds))
    }
    throw WaitError.timedOut(what)
}

enum WaitError: Error { case timedOut(String) }
