import ArgumentParser
import Foundation
import Logging
import MetroSoak
import UnixSignals

/// `metro soak`: load, faults and a verdict (issue 16 §4). Parses the flags
/// into `SoakRunOptions` and hands them to `SoakDriver`; Ctrl-C ends the load
/// early and the run still checks and reports. Exit status: 0 every invariant
/// holds, 1 one does not, 2 the run could not start (bad value, no system).
struct SoakCommand: MetroCommand {
    static let configuration = CommandConfiguration(
        commandName: "soak",
        abstract:
            "Soak-test the system: a realistic load (and, with --chaos, faults), then a verdict on every invariant.",
        discussion: """
            What it does: starts the whole system itself (`metro up` as one child, on free loopback ports, with \
            its data in a temporary folder) or, with --attach, drives a system that is already running; signs \
            users up, edits profiles, uploads videos (synthetic bytes unless --real-media), publishes views \
            (acknowledged) and asks for recommendations (through the gateway when one runs, else rpc), with \
            Poisson arrivals at --rate and zipfian popularity, for --duration. A progress line on stderr shows \
            elapsed time, rate, p99, errors, faults and live violations.

            --chaos: one fault at a time, at seeded random times (mean --fault-interval s): kill -9 of a \
            component (metro up restarts it), SIGSTOP/SIGCONT for 2-5 s, or a full disk for 3-8 s under the \
            broker's journal or one service's database (start mode only: libMetroFaultInject.so, built beside \
            this binary, is preloaded). \
            Each fault is recorded with the time until the system was whole again (every instance registered, \
            the broker ACKing a probe publish on topic soak.probe, the gateway's /readyz 200). The same --seed \
            draws the same operations and faults.

            At the end: no new operations, faults undone, the system whole again; then the checker waits for \
            the consumer groups to drain and checks every invariant over the recorded history and the journal.

            What it writes, in --out (default ./soak-<timestamp>): soak-report.json, soak-report.md, \
            soak-report.html (one self-contained page), history.json (every operation, fault and sample), and \
            in start mode up.log / up.stdout (the system's own output).

            Exit status: 0 every invariant holds; 1 at least one does not (see the report's verdicts and \
            offending ids); 2 the run could not start (a bad value, no system to attach to, --chaos with \
            --attach when the processes cannot be found, every warm-up upload failed: an attached system that \
            processes real media needs --real-media). A command line that does not parse exits 64.

            Examples:
              metro soak --duration 10m --rate 100 --chaos --seed 7
              metro soak --attach --real-media --duration 2m --rate 50   # the system `make run` starts
            """
    )

    @Option(help: "Operations per second to aim at (Poisson arrivals).") var rate: Double = 50
    @Option(help: "How long the load runs: 90s, 10m, 1h (a plain number is seconds).") var duration = "60s"
    @Flag(help: "Inject faults (kill -9, SIGSTOP/SIGCONT, full disk) one at a time.") var chaos = false
    @Option(help: "Seed of the load and the faults (default: from the clock, printed).") var seed: UInt64?
    @Option(help: "Mean seconds between faults with --chaos.") var faultInterval: Double = 25
    @Option(help: "Operations of each kind in flight at most; arrivals beyond it are counted as not started.")
    var concurrency = 64
    @Flag(help: "Drive a running system (endpoints from the flags below) instead of starting one.") var attach = false
    @Flag(help: "Upload a real clip made once with ffmpeg instead of synthetic bytes.") var realMedia = false
    @Option(help: "Folder for the report and the history (default ./soak-<timestamp>).") var out: String?
    @Option(help: "Start mode: the system's data folder (default: a temporary folder).") var dataDir: String?
    @Flag(help: "Keep the temporary data folder at the end.") var keepData = false
    @Flag(help: "No gateway: recommendations go through rpc.") var noGateway = false
    @Flag(help: "Start mode: a secure system (metro up --secure: CURVE on every socket, bearer tokens at the gateway).")
    var secure = false
    @Option(
        help: ArgumentHelp(
            "Attach mode: a secure system's key folder (its cli.key, broker.pub, registry.pub, gateway-auth.secret); default $METRO_KEYS.",
            valueName: "dir"))
    var keys: String?
    @Option(help: "Broker ingest endpoint (attach default tcp://127.0.0.1:7701; start default: a free port).")
    var ingest: String?
    @Option(help: "Broker publish endpoint (attach default tcp://127.0.0.1:7702).") var publish: String?
    @Option(help: "Broker events endpoint (attach default tcp://127.0.0.1:7703).") var events: String?
    @Option(help: "Broker consume endpoint (attach default tcp://127.0.0.1:7704).") var consume: String?
    @Option(help: "Registry endpoint (attach default tcp://127.0.0.1:7400).") var registry: String?
    @Option(help: "Gateway host:port (attach default 127.0.0.1:8080).") var gateway: String?
    @Option(help: "Start mode: profiles instances.") var profiles: Int?
    @Option(help: "Start mode: video instances.") var video: Int?
    @Option(help: "Start mode: recommendations instances.") var recommendations: Int?
    @Option(help: "Start mode: jobs at once per video instance.") var videoJobs: Int?
    @Option(help: "Start mode: the video workers' synthetic step in ms (default 20; ignored with --real-media).")
    var syntheticWorkMs = 20
    @Option(help: "How long the checker may wait for the groups to drain at the end, in seconds.")
    var drainTimeout = 60

    @OptionGroup var global: GlobalOptions

    func run(_ process: ProcessBootstrap) async throws {
        var logger = Logger(label: "metro.soak")
        logger.logLevel = process.logLevel
        let options: SoakRunOptions
        do {
            options = try makeOptions(process)
        } catch let error as SoakSetupError {
            FileHandle.standardError.write(Data("metro soak: \(error)\n".utf8))
            throw ExitCode(2)
        }
        FileHandle.standardError.write(
            Data(
                "metro soak: seed \(options.seed), \(options.rate) ops/s for \(duration), report in \(options.outFolder)\n"
                    .utf8))
        let driver = SoakDriver(options: options, logger: logger)
        let signals = await UnixSignalsSequence(trapping: .sigint, .sigterm)
        let watcher = Task {
            for await _ in signals {
                FileHandle.standardError.write(Data("\nmetro soak: stopping early; checking and reporting\n".utf8))
                driver.requestStop()
            }
        }
        defer { watcher.cancel() }
        do {
            let status = try await driver.run()
            if status != 0 { throw ExitCode(status) }
        } catch let error as SoakSetupError {
            FileHandle.standardError.write(Data("metro soak: \(error)\n".utf8))
            throw ExitCode(2)
        }
    }

    private func makeOptions(_ process: ProcessBootstrap) throws -> SoakRunOptions {
        guard let seconds = Self.seconds(duration), seconds > 0 else {
            throw SoakSetupError("--duration \(duration): give a positive time such as 90s, 10m or 1h")
        }
        guard rate > 0, rate <= 100_000 else { throw SoakSetupError("--rate must be in (0, 100000]") }
        guard concurrency >= 1 else { throw SoakSetupError("--concurrency must be at least 1") }
        guard faultInterval >= 1 else { throw SoakSetupError("--fault-interval must be at least 1 s") }
        if attach && secure {
            throw SoakSetupError("--secure starts a secure system: with --attach, give its key folder with --keys")
        }
        if !attach && keys != nil {
            throw SoakSetupError("--keys is for --attach; a started system is secure with --secure")
        }
        if attach, [profiles, video, recommendations, videoJobs].contains(where: { $0 != nil }) || dataDir != nil {
            throw SoakSetupError(
                "--profiles/--video/--recommendations/--video-jobs/--data-dir start a system: not with --attach")
        }
        let stamp = ISO8601DateFormatter().string(from: Date()).replacingOccurrences(of: ":", with: "")
        var options = SoakRunOptions(outFolder: out ?? "soak-\(stamp)", metroBinary: Self.metroBinary())
        options.seed = seed ?? UInt64(Date().timeIntervalSince1970 * 1000)
        options.rate = rate
        options.durationSeconds = seconds
        options.concurrency = concurrency
        options.chaos = chaos
        options.faultInterval = faultInterval
        options.attach = attach
        options.realMedia = realMedia
        options.dataDir = dataDir
        options.keepData = keepData
        options.noGateway = noGateway
        (options.ingest, options.publish, options.events, options.consume) = (ingest, publish, events, consume)
        (options.registry, options.gateway) = (registry, gateway)
        options.drainTimeout = .seconds(drainTimeout)
        options.secure = secure
        let environmentKeys = ProcessInfo.processInfo.environment["METRO_KEYS"].flatMap { $0.isEmpty ? nil : $0 }
        options.keysFolder = attach ? keys ?? environmentKeys : nil
        if attach {
            for (flag, value) in [
                ("--ingest", ingest), ("--publish", publish), ("--events", events), ("--consume", consume),
                ("--registry", registry), ("--gateway", gateway), ("--keys", options.keysFolder),
            ] {
                if let value { options.attachFlags += [flag, value] }
            }
        }
        // The token outlives the run, its warm-up and its drain.
        let tokenLifetime = Duration.seconds(Int(seconds) + 3600)
        options.loadSecurity = { folder in try await SoakKeys.load(folder: folder, tokenLifetime: tokenLifetime) }
        options.silenceReason = { ZMTPMechanismProbe.silenceReason($0, curve: $1) }
        var up: [String] = process.childArguments
        for (flag, value) in [
            ("--profiles", profiles), ("--video", video), ("--recommendations", recommendations),
            ("--video-jobs", videoJobs),
        ] {
            if let value { up += [flag, "\(value)"] }
        }
        if !realMedia { up += ["--synthetic-work-ms", "\(syntheticWorkMs)"] }
        options.upArguments = up
        return options
    }

    /// "90s", "10m", "1h", "250ms" or a plain number of seconds.
    static func seconds(_ text: String) -> Double? {
        for (suffix, scale) in [("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0)] where text.hasSuffix(suffix) {
            return Double(text.dropLast(suffix.count)).map { $0 * scale }
        }
        return Double(text)
    }

    /// This binary (`/proc/self/exe`): the one `metro up` runs as, with the fault library beside it.
    static func metroBinary() -> String { SelfExecutable.path }
}
