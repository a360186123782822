package import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A real `metro` process started by a test, on loopback, with ephemeral ports.
///
/// Readiness is an event, not a sleep: every long-running `metro` command prints
/// one line `ready {json}` on standard output once all its sockets are bound (see
/// docs/operations.md, "Readiness line"); `waitUntilReady` suspends until the
/// reader thread sees that line (or the exit handler sees the process die) and
/// returns its JSON, which holds the endpoints actually bound. The process is
/// killed when the `MetroProcess` is released, so a failing test never leaves one
/// behind.
///
/// Threading: every member from any thread or task; no member blocks a thread.
package final class MetroProcess: Sendable {
    package let arguments: [String]
    private let child: ChildProcess

    /// The `metro` binary next to the test bundle (or `METRO_BIN`).
    package static var binary: URL {
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

    /// Starts `metro arguments`; returns once it runs, without waiting for its ready line.
    /// `shell`: commands `/bin/sh` runs before it execs metro in its place (same
    /// pid), e.g. `ulimit -S -n 64` to start it under a low open-files limit.
    ///
    /// The process watches this one (`METRO_SUPERVISOR_PID`, docs/operations.md) and
    /// stops when it is gone, so a test run that is killed or crashes leaves no metro
    /// process behind. `environment` may set it otherwise.
    package init(_ arguments: [String], environment: [String: String] = [:], shell: String? = nil) throws {
        self.arguments = arguments
        let environment = ["METRO_SUPERVISOR_PID": "\(getpid())"].merging(environment) { $1 }
        if let shell {
            child = try ChildProcess(
                URL(fileURLWithPath: "/bin/sh"), ["-c", shell + "; exec \"$0\" \"$@\"", Self.binary.path] + arguments,
                environment: environment)
        } else {
            child = try ChildProcess(Self.binary, arguments, environment: environment)
        }
    }

    /// The JSON object of the first `ready {json}` line among `lines`, its values as strings.
    static func readyLine(_ lines: [String]) -> [String: String]? {
        for line in lines where line.hasPrefix("ready ") {
            if let data = line.dropFirst(6).data(using: .utf8),
                let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
            {
                return object.mapValues { "\($0)" }
            }
        }
        return nil
    }

    /// Suspends until the readiness line arrives and returns its fields; throws
    /// `MetroProcessError.exited` if the process exits first, `.notReady` after `timeout`.
    @discardableResult
    package func waitUntilReady(timeout: Duration = .seconds(30)) async throws -> [String: String] {
        _ = await child.output.wait(timeout: timeout) { Self.readyLine($0.lines) != nil || $0.exitStatus != nil }
        let output = child.output.value
        if let ready = Self.readyLine(output.lines) { return ready }
        if let status = output.exitStatus {
            // Its last words may still be in the pipe.
            _ = await child.output.wait(timeout: .seconds(2)) { $0.stderrClosed }
            throw MetroProcessError.exited(status: status, stderr: stderrText)
        }
        throw MetroProcessError.notReady(stderr: output.stderr)
    }

    package var stdoutLines: [String] { child.stdoutLines }
    package var stderrText: String { child.stderrText }
    package var pid: Int32 { child.pid }

    /// Whether standard error shows `text` within `timeout`. For a process that
    /// still runs: its log line and the answer a test saw travel different
    /// ways (a pipe read by a thread here, a socket), so `stderrText` read at
    /// once may not hold the line yet. A full run failed a check of that kind
    /// (`ProfilesDiskFullTests`, 2026-12-05: the rpc's error had arrived, the
    /// fault library's line not yet; then `VideoDiskFullTests` the same way), so
    /// every positive check of a harness process's stderr uses this.
    package func stderrShows(_ text: String, timeout: Duration = .seconds(30)) async -> Bool {
        await child.output.wait(timeout: timeout) { $0.stderr.contains(text) }
    }
    /// Whether the process has not been seen to exit yet.
    package var isRunning: Bool { child.isRunning }

    /// Sends `signal` (SIGKILL for a crash, SIGTERM for a graceful stop).
    package func kill(_ signal: Int32 = SIGKILL) { child.kill(signal) }

    /// Freezes the process (SIGSTOP) until the kernel reports it stopped (`ChildProcess.freeze`).
    package func freeze() async throws { try await child.freeze() }

    /// Lets a frozen process run again (SIGCONT).
    package func thaw() { child.thaw() }

    /// Suspends until the process exits, up to `timeout`; returns its exit status or
    /// nil (`ChildProcess.waitForExit`, which also waits for its last output). The
    /// default is long because a full run holds every process up for seconds at its
    /// start (docs/performance.md, "The test suite starves itself"): a test that
    /// means "exits soon" passes its own bound.
    @discardableResult
    package func waitForExit(timeout: Duration = .seconds(60)) async -> Int32? {
        await child.waitForExit(timeout: timeout)
    }

    /// A command run to its end: its exit status, with everything it wrote read.
    /// Throws `MetroProcessError.stillRunning` (with what it wrote so far) after
    /// `timeout`, so that a failing test says what the command was doing.
    package func finished(timeout: Duration = .seconds(60)) async throws -> Int32 {
        guard let status = await waitForExit(timeout: timeout) else {
            throw MetroProcessError.stillRunning(stdout: child.stdoutText, stderr: stderrText)
        }
        return status
    }
}

/// Why `MetroProcess.waitUntilReady` gave up, with the process's standard error.
package enum MetroProcessError: Error, CustomStringConvertible {
    case exited(status: Int32, stderr: String)
    case notReady(stderr: String)
    case stillRunning(stdout: String, stderr: String)

    package var description: String {
        switch self {
        case .exited(let status, let err): "metro exited with status \(status) before it was ready:\n\(err)"
        case .notReady(let err): "metro was not ready in time:\n\(err)"
        case .stillRunning(let out, let err): "metro still runs; its stdout:\n\(out)\nits stderr:\n\(err)"
        }
    }
}
