import Foundation
import MetroKit
import MetroProtocol
import MetroTestKit
import Testing

/// A tmux server of the test's own (`-L`, its own socket), driven as a person
/// drives a terminal: start a command in a detached session, read the screen
/// with `capture-pane`, type with `send-keys`. Every tmux command is a child
/// process awaited without blocking the pool; `kill()` ends the server.
struct Tmux {
    static let binary = ["/usr/bin/tmux", "/bin/tmux", "/usr/local/bin/tmux"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }
    /// Runs argv[1:] with /dev/null on 0-2, no other descriptor open, and no
    /// signal blocked. The test process blocks signals and a child inherits the
    /// mask through exec: a tmux server started with it never got SIGCHLD, so
    /// it never reaped its pane's process, and `kill-server` left it running
    /// (seen: servers left behind by every run, their `metro top` a zombie).
    static let detached = """
        import os, signal, sys
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        null = os.open("/dev/null", os.O_RDWR)
        for fd in (0, 1, 2): os.dup2(null, fd)
        os.closerange(3, 65536)
        os.execv(sys.argv[1], sys.argv[1:])
        """
    let socket = "metro-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"

    @discardableResult
    func run(_ args: [String]) async throws -> String {
        guard let binary = Self.binary else {
            throw WaitError.unexpected("tmux is not installed (apt-get install tmux; `make setup-test` does)")
        }
        // The first command starts the tmux server, which keeps every descriptor
        // it inherited. Foundation's Process learns that a child ended when a
        // socket it hands the child (fd 51 here) is closed by every holder: a
        // server holding it made the client's exit go unseen (the client stayed
        // a zombie; `ls -l /proc/<server>/fd` showed the socket). So that command
        // starts through `detached`.
        let p =
            args.first == "new-session"
            ? try ChildProcess(
                URL(fileURLWithPath: "/usr/bin/python3"),
                ["-c", Self.detached, binary, "-L", socket] + args, environment: ["TERM": "xterm-256color"])
            : try ChildProcess(
                URL(fileURLWithPath: binary), ["-L", socket] + args, environment: ["TERM": "xterm-256color"])
        let status = await p.waitForExit(timeout: .seconds(10))
        guard status == 0 else {
            throw WaitError.unexpected(
                "tmux \(args.joined(separator: " ")): status \(status.map(String.init) ?? "none in 10 s"), \(p.stderrText)"
            )
        }
        return p.stdoutText
    }

    func screen(_ target: String) async throws -> String { try await run(["capture-pane", "-p", "-t", target]) }

    func format(_ target: String, _ format: String) async throws -> String {
        try await run(["display-message", "-p", "-t", target, format]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func kill() async { _ = try? await run(["kill-server"]) }

    /// Whether the server has gone (`ls` fails once it has; a server that
    /// could not reap its pane stayed, see `detached`).
    func serverGone() async -> Bool { (try? await run(["ls"])) == nil }
}

/// `metro top` on a real terminal (tmux), checked as a person would see it
/// (issue 16 §4b): the group row with its lag, the service row, rates after
/// traffic; `q` quits and gives the terminal back as it was.
@Suite struct TopTmuxTests {
    @Test func showsTheSystemLiveAndQuitsOnQRestoringTheScreen() async throws {
        let tmux = Tmux()
        #expect(Tmux.binary != nil, "tmux is missing: the test needs it (Makefile setup-test and .ci/run install it)")
        let system = try await TopSystem.start()
        do {
            try await watch(system, tmux)
        } catch {
            await tmux.kill()
            await system.stop()
            throw error
        }
        await tmux.kill()
        await system.stop()
        try await eventually("the tmux server gone", timeout: .seconds(10)) { await tmux.serverGone() }
    }

    /// Ctrl-C on the terminal (SIGINT) restores it too, and so does a broker
    /// and registry that never answer: top says so on screen, keeps running.
    @Test func ctrlCRestoresTheScreenAndSilentPeersAreShown() async throws {
        let tmux = Tmux()
        let silent = "tcp://127.0.0.1:\(TestPorts.next())"
        let command =
            "echo BEFORE-TOP; '\(MetroProcess.binary.path)' top --interval 0.5 --timeout-ms 300 --consume \(silent)"
            + " --registry \(silent); echo top exited $?; exec sleep 600"
        do {
            try await tmux.run(["new-session", "-d", "-s", "top", "-x", "150", "-y", "40", command])
            try await eventually("both peers shown as not answering", timeout: .seconds(20)) {
                let screen = try await tmux.screen("top")
                return screen.contains("BROKER  not answering, retrying")
                    && screen.contains("REGISTRY  not answering, retrying")
            }
            try await tmux.run(["send-keys", "-t", "top", "C-c"])
            try await eventually("top exited", timeout: .seconds(10)) {
                try await tmux.screen("top").contains("top exited")
            }
            #expect(try await tmux.format("top", "#{alternate_on} #{cursor_flag}") == "0 1")
            let after = try await tmux.screen("top")
            #expect(after.contains("BEFORE-TOP") && after.contains("top exited 0"), "\(after)")
        } catch {
            await tmux.kill()
            throw error
        }
        await tmux.kill()
    }

    private func watch(_ system: TopSystem, _ tmux: Tmux) async throws {
        let command =
            "echo BEFORE-TOP; '\(MetroProcess.binary.path)' top --interval 0.5 --consume \(system.broker.consume)"
            + " --registry \(system.registry.endpoint); echo top exited $?; exec sleep 600"
        try await tmux.run(["new-session", "-d", "-s", "top", "-x", "150", "-y", "40", command])
        var screen = ""
        try await eventually("the group and service rows", timeout: .seconds(20)) {
            screen = try await tmux.screen("top")
            return screen.contains("workers") && screen.contains("echo-1")
        }
        #expect(try await tmux.format("top", "#{alternate_on} #{cursor_flag}") == "1 0", "alternate screen, no cursor")
        #expect(!screen.contains("BEFORE-TOP"), "top draws on the alternate screen:\n\(screen)")
        let lag = try #require(try await system.broker.stats().groups["workers"]?.lag)
        let row = try #require(screen.split(separator: "\n").first { $0.hasPrefix("workers") }, "\(screen)")
        // GROUP MEMBERS LAG PENDING REDELIVERED DEAD POSITION
        #expect(row.split(separator: " ").prefix(4).map(String.init) == ["workers", "1", "\(lag)", "2"], "\(row)")
        let service = try #require(screen.split(separator: "\n").first { $0.hasPrefix("echo ") }, "\(screen)")
        #expect(service.contains("echo-1") && service.contains("tcp://127.0.0.1:5999"), "\(service)")
        #expect(screen.contains("BROKER  up"), "\(screen)")

        // Traffic: the video row's IN/S goes above 0 while events flow.
        let publisher = try Publisher(.init(ingest: system.broker.ingest))
        try await closing(publisher) {
            var i = 0
            try await eventually("a video rate above 0", timeout: .seconds(20)) {
                screen = try await tmux.screen("top")
                let video = screen.split(separator: "\n").first { $0.hasPrefix("video ") } ?? ""
                let inRate = video.split(separator: " ").dropFirst().first.flatMap { Double($0) } ?? 0
                return inRate > 0
            } while: {
                for _ in 0..<5 {
                    _ = try await publisher.publish(
                        topic: "video.watched", payload: bytes("{}"), eventID: bytes("w\(i)"))
                    i += 1
                }
            }
        }

        // q: top exits with status 0 and the terminal is as before it.
        try await tmux.run(["send-keys", "-t", "top", "q"])
        try await eventually("top exited", timeout: .seconds(10)) {
            try await tmux.screen("top").contains("top exited")
        }

        #expect(try await tmux.format("top", "#{alternate_on} #{cursor_flag}") == "0 1", "main screen, cursor shown")
        let after = try await tmux.screen("top")
        #expect(after.contains("BEFORE-TOP"), "the screen from before top is back:\n\(after)")
        #expect(after.contains("top exited 0"), "\(after)")
        #expect(!after.contains("GROUP"), "nothing of top is left on the main screen:\n\(after)")
    }
}
