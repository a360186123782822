import ArgumentParser
import Foundation
import MetroKit
import MetroProtocol

/// `metro top`: a live view of a running system, in the spirit of nats-top and
/// htop, from the broker's STATS (protocol.md §4.5) and the registry's LIST
/// (§5.8), and the gateway's `/metrics`: events per second in and out by topic
/// prefix, each consumer group's members, lag, pending, redeliveries and dead
/// letters, the gateway's requests, 429s, 5xx and p99 and each upstream's
/// adaptive limit, the registered services with their instances and lease ages,
/// and the broker's RSS and journal size. On a terminal it takes the alternate screen and hides the
/// cursor until `q`, SIGINT or SIGTERM, then puts the terminal back. Off a
/// terminal it prints one plain frame per interval. `--once` takes two samples
/// one interval apart (so rates are real) and prints one frame, or with
/// `--json` one JSON object (docs/operations.md, "Watching a running system").
/// A broker or registry that does not answer is said on screen and asked again
/// at the next interval; each ask is bounded by `--timeout-ms`.
struct TopCommand: MetroCommand {
    static let configuration = CommandConfiguration(
        commandName: "top", abstract: "A live view of the broker's traffic, groups and the registered services.")

    @Option(help: "The broker's consume endpoint (STATS).")
    var consume = "tcp://127.0.0.1:7704"
    @Option(name: .customLong("registry"), help: "Registry endpoint (repeat for a fallback).")
    var registries: [String] = ["tcp://127.0.0.1:7400"]
    @Option(
        help: ArgumentHelp(
            "The gateway's HTTP address (host:port) for its /metrics; \"\" leaves it out.",
            discussion: "Default: 127.0.0.1:8080 when --consume is the default; else none."))
    var gateway: String?
    @Option(help: "An operator's bearer token for a secure gateway's /metrics (or $METRO_GATEWAY_TOKEN).")
    var gatewayToken: String?
    @Option(
        help: ArgumentHelp(
            "metro up's data folder, for its PROCESSES (each child's pid, state, restarts, last exit).",
            discussion: "Default: data when --consume is the default and data/up.status.json exists; else none."))
    var dataDir: String?
    @Option(help: "Seconds between refreshes.")
    var interval = 1.0
    @Flag(help: "Print one frame (two samples an interval apart, for rates) and exit.")
    var once = false
    @Flag(help: "With --once: print one JSON object instead of the frame.")
    var json = false
    @Option(help: "Give up on one STATS or LIST after this many milliseconds.")
    var timeoutMs = 800
    @OptionGroup var keys: ClientKeyOptions
    @OptionGroup var global: GlobalOptions

    /// The gateway to show: `--gateway`, else the default one beside the default broker.
    var gatewayAddress: String? {
        if let gateway { return gateway.isEmpty ? nil : gateway }
        return consume == "tcp://127.0.0.1:7704" ? "127.0.0.1:8080" : nil
    }

    /// The data folder to read `up.status.json` from: `--data-dir`, else `data` beside the default broker.
    var dataFolder: String? {
        if let dataDir { return dataDir }
        guard consume == "tcp://127.0.0.1:7704",
            FileManager.default.fileExists(atPath: UpStatus.path(dataFolder: "data"))
        else { return nil }
        return "data"
    }

    func validate() throws {
        guard interval >= 0.1 else { throw ValidationError("--interval is at least 0.1 seconds") }
        guard !json || once else { throw ValidationError("--json goes with --once (one JSON object)") }
        guard timeoutMs >= 1 else { throw ValidationError("--timeout-ms is at least 1") }
    }

    func run(_ process: ProcessBootstrap) async throws {
        let timeout = Duration.milliseconds(timeoutMs)
        let loaded = try keys.load()
        var configuration = RegistryClient.Configuration(endpoints: registries, requestTimeout: timeout, attempts: 1)
        configuration.curve = loaded.registry
        let registry = try RegistryClient(configuration: configuration)
        let sampler = TopSampler(
            admin: BrokerAdminClient(consumeEndpoint: consume, timeout: timeout, curve: loaded.broker),
            registry: registry, gateway: gatewayAddress,
            gatewayToken: gatewayToken ?? ProcessInfo.processInfo.environment["METRO_GATEWAY_TOKEN"], timeout: timeout,
            dataFolder: dataFolder)
        let terminal = !once && isatty(1) == 1
        let screen = TopScreen(
            brokerEndpoint: consume, registryEndpoints: registries, gatewayAddress: gatewayAddress,
            dataFolderGiven: dataDir != nil, colour: isatty(1) == 1,
            width: terminal ? TerminalScreen.columns : Int.max)
        do {
            if once {
                try await runOnce(sampler, screen)
            } else if terminal {
                try await runOnTerminal(sampler, screen)
            } else {
                try await untilSignal {
                    try await loop(sampler) {
                        print(screen.render($0, interval: interval).joined(separator: "\n") + "\n")
                    }
                }
            }
        } catch {
            await registry.close()
            throw error
        }
        await registry.close()
    }

    private func runOnce(_ sampler: TopSampler, _ screen: TopScreen) async throws {
        let first = await sampler.sample()
        try await Task.sleep(for: .seconds(interval))
        let report = TopReport(await sampler.sample(), previous: first)
        if json {
            print(
                DlqText.json(
                    report.json(
                        brokerEndpoint: consume, registryEndpoints: registries,
                        gatewayAddress: gatewayAddress)))
        } else {
            print(screen.render(report, interval: interval).joined(separator: "\n"))
        }
        if case .failure = report.sample.broker { throw ExitCode(1) }
    }

    /// The live screen until `q` (or `Q`) or a signal (Ctrl-C is SIGINT: input keeps ISIG).
    private func runOnTerminal(_ sampler: TopSampler, _ screen: TopScreen) async throws {
        let terminal = TerminalScreen()
        let keys = terminal.keys()
        do {
            try await untilSignal {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        try await loop(sampler) { terminal.draw(screen.render($0, interval: interval)) }
                    }
                    group.addTask {
                        for await key in keys where [UInt8(ascii: "q"), UInt8(ascii: "Q")].contains(key) { return }
                        // stdin ended without a q: run on until a signal.
                        while true { try await Task.sleep(for: .seconds(3600)) }
                    }
                    _ = try await group.next()
                    group.cancelAll()
                }
            }
        } catch {
            await terminal.restore()
            throw error
        }
        await terminal.restore()
    }

    /// Samples every `interval` (from the start of one sample to the next, so a
    /// slow answer does not stretch the period) and shows each report.
    private func loop(_ sampler: TopSampler, show: (TopReport) -> Void) async throws {
        var previous: TopSample?
        while !Task.isCancelled {
            let started = ContinuousClock.now
            let sample = await sampler.sample()
            show(TopReport(sample, previous: previous))
            // Rates need a broker sample before; keep the last one that had one.
            if case .success = sample.broker { previous = sample }
            try await Task.sleep(until: started + .seconds(interval))
        }
    }
}
