import ArgumentParser
import Foundation
import MetroKit

/// `metro publish TOPIC`: publishes test events (issue 16 §2). The payload comes
/// from `--data`, `--file`, stdin, or `--example` (a new realistic one per event
/// for each topic of docs/events.md), and is checked against the topic's schema
/// unless `--raw`. Acknowledged publish (protocol.md §4.2) by default, with
/// MetroKit's `Publisher`; `--fire-and-forget` takes the PUB path (§4.3).
/// `--count N --rate R` sends a stream with a live progress line on stderr and a
/// summary (sent, acked, errors, ACK latency p50/p99 from an HdrHistogram) on
/// stdout. Exit status 1 if any event failed.
struct PublishCommand: MetroCommand {
    static let configuration = CommandConfiguration(
        commandName: "publish", abstract: "Publish test events (acknowledged by default).")

    @Argument(help: "The topic (video.uploaded, ...).")
    var topic: String
    @Option(help: "The payload (JSON text).")
    var data: String?
    @Option(help: "Read the payload from this file.")
    var file: String?
    @Flag(help: "Generate a realistic random payload for each event (topics of docs/events.md).")
    var example = false
    @Option(help: "The headers: a JSON object of strings.")
    var headers = #"{"schema":"1.0"}"#
    @Option(help: "The event id of a single event (default: a new UUID per event).")
    var id: String?
    @Option(help: "How many events to send.")
    var count = 1
    @Option(help: "Events per second at most (0: as fast as the ACK window allows).")
    var rate: Double = 0
    @Flag(help: "Use the fire-and-forget (PUB) path: no ACK, no seq, may be lost.")
    var fireAndForget = false
    @Flag(help: "Send the payload as given, without checking it against the topic's schema.")
    var raw = false
    @Option(help: "Seed of --example's random content (repeatable runs).")
    var seed: UInt64?
    @Option(help: "Acknowledged publishes in flight at most.")
    var window = 256
    @Option(help: "Give up on an event (or on finding the broker) after this many milliseconds.")
    var timeoutMs = 10_000
    @Flag(help: "Print the result as one JSON object.")
    var json = false
    @Option(help: "The broker's ingest (ROUTER) endpoint.")
    var ingest = "tcp://127.0.0.1:7701"
    @Option(help: "The broker's publish (XSUB) endpoint, for --fire-and-forget.")
    var publish = "tcp://127.0.0.1:7702"
    @OptionGroup var keys: ClientKeyOptions
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        let sources = [data != nil, file != nil, example].filter { $0 }.count
        guard sources <= 1 else { throw ValidationError("give one of --data, --file and --example (or stdin)") }
        guard count >= 1 else { throw ValidationError("--count is at least 1") }
        guard rate >= 0 else { throw ValidationError("--rate is 0 (no limit) or more") }
        guard window >= 1 else { throw ValidationError("--window is at least 1") }
        guard id == nil || count == 1 else { throw ValidationError("--id names one event: use it without --count") }
    }

    func run(_ process: ProcessBootstrap) async throws {
        let headerBytes = Array(headers.utf8)
        if !raw { try PayloadMaker.checkHeaders(headerBytes) }
        let maker = try PayloadMaker(topic: topic, source: try source(), raw: raw)
        let stats = PublishStats()
        let progress = ProgressLine(stats: stats, topic: topic, fireAndForget: fireAndForget, total: count)
        let timeout = Duration.milliseconds(timeoutMs)
        let curve = try keys.load().broker
        if count > 1 { progress.start() }
        if fireAndForget {
            try await FireAndForgetSender(
                endpoint: publish, topic: topic, headers: headerBytes, count: count, rate: rate,
                connectTimeout: timeout, curve: curve
            ).run(maker, stats: stats)
        } else {
            var options = Publisher.Options(ingest: ingest)
            options.giveUpAfter = timeout
            options.curve = curve
            let publisher = try Publisher(options)
            let stream = AckedStream(
                publisher: publisher, topic: topic, headers: headerBytes, count: count, rate: rate, window: window,
                eventID: id, echo: count == 1 && !json)
            await stream.run(maker, stats: stats)
            await publisher.close()
        }
        await progress.stop()
        let summary = stats.snapshot(topic: topic, fireAndForget: fireAndForget)
        if json {
            print(summary.json)
        } else if count > 1 || fireAndForget {
            print(summary.line)
        }
        if !fireAndForget, curve == nil, summary.acked == 0, summary.errors > 0 {
            // A secure broker tells a plain client nothing (protocol.md §7.1): say what silence may mean.
            FileHandle.standardError.write(
                Data(
                    "hint: nothing was acknowledged; if the broker runs with CURVE on, pass --keys DIR or set METRO_KEYS\n"
                        .utf8))
        }
        if summary.errors > 0 || summary.sent < count { throw ExitCode(1) }
    }

    private func source() throws -> PayloadMaker.Source {
        if example { return .examples(ExampleEvents(seed: seed)) }
        if let data { return .fixed(Array(data.utf8)) }
        if let file {
            guard let contents = FileManager.default.contents(atPath: file) else {
                throw ValidationError("cannot read \(file)")
            }
            return .fixed(Array(contents))
        }
        if isatty(0) == 1 {
            FileHandle.standardError.write(Data("reading the payload from stdin (end with Ctrl-D)...\n".utf8))
        }
        var bytes = Array(FileHandle.standardInput.readDataToEndOfFile())
        // A trailing newline (echo, heredoc) is not part of a JSON payload.
        if !raw { while bytes.last == UInt8(ascii: "\n") || bytes.last == UInt8(ascii: "\r") { bytes.removeLast() } }
        return .fixed(bytes)
    }
}
