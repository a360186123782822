package import Foundation
import MetroRuntime
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A child process whose output and exit async code awaits without blocking a
/// thread of the cooperative pool: two reader threads collect standard output and
/// error, a third waits for the exit and reaps the child, and all resume the
/// waiters of one `Watched` state. Started with `ChildSpawn` (posix_spawn), not
/// Foundation's `Process`, whose `run()` crashed the test process twice: it
/// over-reads /proc/self/fd entries, and this process holds ~1,540 descriptors
/// at its peak (`ChildSpawn` has the details). `MetroProcess` (a `metro` command with its
/// ready line) and `DocumentedExample` (a pyzmq script) are built on it. The
/// child is killed (SIGKILL, not awaited) when the object is released, so a
/// failing test never leaves one behind.
///
/// Threading: every member from any thread or task.
package final class ChildProcess: Sendable {
    /// What the child has shown so far.
    package struct Output: Sendable {
        /// Complete lines of standard output, without their newline.
        package var lines: [String] = []
        /// Standard output as received, including an unterminated last line.
        package var stdout = ""
        package var stderr = ""
        /// The exit status (the signal number for a child killed by a signal), once it exited.
        package var exitStatus: Int32?
        /// End of file seen on stdout, stderr: everything the child wrote has been read.
        package var stdoutClosed = false
        package var stderrClosed = false
        fileprivate var partial = ""
    }

    package let pid: Int32
    package let output: Watched<Output>

    /// Starts `executable` with `arguments`, its environment this process's with
    /// `environment` merged over it. Returns once the child runs; never waits for it.
    package init(_ executable: URL, _ arguments: [String], environment: [String: String] = [:]) throws {
        let output = Watched(Output())
        let child = try ChildSpawn.spawn(
            executable.path, arguments, environment: ProcessInfo.processInfo.environment.merging(environment) { $1 },
            stdout: .pipe, stderr: .pipe)
        self.output = output
        pid = child.pid
        Self.watchExit(pid, into: output)
        Self.readUntilEOF(child.stdout!, name: "test-stdout", into: output) { o, text in
            o.stdout += text
            o.partial += text
            while let nl = o.partial.firstIndex(of: "\n") {
                o.lines.append(String(o.partial[..<nl]))
                o.partial = String(o.partial[o.partial.index(after: nl)...])
            }
        } atEnd: {
            $0.stdoutClosed = true
        }
        Self.readUntilEOF(child.stderr!, name: "test-stderr", into: output) { o, text in
            o.stderr += text
        } atEnd: {
            $0.stderrClosed = true
        }
    }

    /// Records the exit as soon as the kernel has it, then reaps the child: the
    /// status is recorded while the pid is still the child's, so `kill` (which
    /// checks it) never reaches a process that reused the pid. (With Foundation's
    /// `Process`, an exit went unseen while another child held the socket it
    /// reports exits through: a `tmux send-keys` client "still running" after 10 s.)
    private static func watchExit(_ pid: Int32, into output: Watched<Output>) {
        let thread = Thread {
            _ = ChildSpawn.waitAndReap(pid) { status in
                // The exit code, or the number of the signal that killed it.
                output.update { if $0.exitStatus == nil { $0.exitStatus = status.code } }
            }
        }
        thread.name = "test-waitid"
        thread.start()
    }

    /// Reads `handle` with blocking reads on a thread of its own until end of file.
    /// Not `readabilityHandler`: tearing its dispatch read source down while others
    /// are set up races in libdispatch's epoll bookkeeping on Linux and crashed the
    /// test process (SIGSEGV in `_dispatch_event_loop_drain`, seen in a full run;
    /// swift-corelibs-libdispatch issue 949). The thread owns `fd` and closes it at
    /// end of file, so it is never reused under the read.
    private static func readUntilEOF(
        _ fd: Int32, name: String, into output: Watched<Output>,
        _ consume: @escaping @Sendable (inout Output, String) -> Void,
        atEnd: @escaping @Sendable (inout Output) -> Void
    ) {
        let thread = Thread {
            var buffer = [UInt8](repeating: 0, count: 64 * 1024)
            while true {
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n > 0 {
                    let text = String(decoding: buffer[0..<n], as: UTF8.self)
                    output.update { consume(&$0, text) }
                } else if n < 0 && errno == EINTR {
                    continue
                } else {
                    close(fd)
                    output.update(atEnd)
                    return
                }
            }
        }
        thread.name = name
        thread.start()
    }

    /// Whether the child has not been seen to exit yet.
    package var isRunning: Bool { output.value.exitStatus == nil }
    package var stdoutLines: [String] { output.value.lines }
    package var stdoutText: String { output.value.stdout }
    package var stderrText: String { output.value.stderr }

    /// Sends `signal` (SIGKILL for a crash, SIGTERM for a graceful stop) while the child runs.
    package func kill(_ signal: Int32 = SIGKILL) {
        if isRunning { Glibc.kill(pid, signal) }
    }

    /// Suspends until the child exits, up to `timeout`; returns its exit status, or
    /// nil if it still runs. After the exit it also waits (at most 2 s) for end of
    /// file on both pipes, so that `stderrText` holds the child's last words: a test
    /// that checked stderr right after the exit status failed now and then (4 runs
    /// in 15). The default is long for the reason `MetroProcess.waitForExit` gives. A grandchild that inherited the pipes (under `metro up`) can hold
    /// them open, hence the bound.
    @discardableResult
    package func waitForExit(timeout: Duration = .seconds(60)) async -> Int32? {
        guard await output.wait(timeout: timeout, until: { $0.exitStatus != nil }) else { return nil }
        _ = await output.wait(timeout: .seconds(2)) { $0.stdoutClosed && $0.stderrClosed }
        return output.value.exitStatus
    }

    /// Freezes the child (SIGSTOP) and waits until the kernel reports every thread
    /// stopped. `kill` returns before every thread has stopped (on a VM a thread
    /// running on the other core can still answer a request for a moment), so a
    /// test that needs a silent peer waits for state `T` in /proc. Polls /proc
    /// every millisecond: nothing signals a stop.
    package func freeze() async throws {
        Glibc.kill(pid, SIGSTOP)
        let pid = pid
        try await eventually("process \(pid) stopped", timeout: .seconds(5), interval: .milliseconds(1)) {
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

    /// Lets a frozen child run again (SIGCONT).
    package func thaw() { Glibc.kill(pid, SIGCONT) }

    deinit {
        if isRunning { Glibc.kill(pid, SIGKILL) }
    }
}
