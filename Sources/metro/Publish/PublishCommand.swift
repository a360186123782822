import ArgumentParser
import Foundation
import MetroKit
import ZeroMQ

/// `metro publish TOPIC`: publishes test events (issue 16 §2). The payload comes
/// from `--data`, `--file`, stdin, or `--example` (a new realistic one per event
/// for each topic of docs/events.md), and is checked against the topic's schema
/// unless `--raw`. Acknowledged publish (protocol.md §4.2) by default, with
/// MetroKit's `Publisher`; `--fire-and-forget` takes the PUB path (§4.3).
/// `--count N --rate R` sends a stream with a live progress line on stderr and a
/// summary (sent, acked, errors, ACK latency p50/p99 from an HdrHistogram) on
/// stdout. Exit status 1 if any event failed.
///
/// `--example` views name users and videos the running system announced in its
/// journal (`ExampleGrounding`), so the services act on them instead of
/// dead-lettering them; one stderr line says what the examples will name or do.
/// `--synthetic` keeps every id made up.
struct PublishCommand: MetroCommand {
    static let configuration = CommandConfiguration(
        commandName: "publish", abstract: "Publish test events (acknowledged by default).")

    @Argument(help: "The topic (video.uploaded, ...).")
    var topic: String
    @Option(help: "The payload (JSON text).")
    var data: String?
    @Option(help: "Read the payload from this file.")
    var file: String?
    @Flag(
        help: ArgumentHelp(
            "Generate a realistic random payload for each event (topics of docs/events.md).",
            discussion: "Views name users and videos of the running system, read from its journal."))
    var example = false
    @Flag(help: "With --example: made-up ids only (services that check them dead-letter the events).")
    var synthetic = false
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
    var ingest = Self.defaultIngest
    @Option(help: "The broker's publish (XSUB) endpoint, for --fire-and-forget.")
    var publish = "tcp://127.0.0.1:7702"
    @Option(
        help: ArgumentHelp(
            "The broker's consume endpoint, where --example reads the system's users and videos.",
            discussion: "Default: tcp://127.0.0.1:7704 when --ingest is the default; else none is read."))
    var consume: String?
    @OptionGroup var keys: ClientKeyOptions
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        let sources = [data != nil, file != nil, example].filter { $0 }.count
        guard sources <= 1 else { throw ValidationError("give one of --data, --file and --example (or stdin)") }
        guard count >= 1 else { throw ValidationError("--count is at least 1") }
        guard rate >= 0 else { throw ValidationError("--rate is 0 (no limit) or more") }
        guard window >= 1 else { throw ValidationError("--window is at least 1") }
        guard id == nil || count == 1 else { throw ValidationError("--id names one event: use it without --count") }
        guard !synthetic || example else { throw ValidationError("--synthetic goes with --example") }
    }

    func run(_ process: ProcessBootstrap) async throws {
        let headerBytes = Array(headers.utf8)
        if !raw { try PayloadMaker.checkHeaders(headerBytes) }
        let timeout = Duration.milliseconds(timeoutMs)
        let curve = try keys.load().broker
        let maker = try PayloadMaker(topic: topic, source: try await source(timeout: timeout, curve: curve), raw: raw)
        let stats = PublishStats()
        let interruption = PublishInterruption()
        let progress = ProgressLine(stats: stats, topic: topic, fireAndForget: fireAndForget, total: count)
        if count > 1 { progress.start() }
        if fireAndForget {
            // Nothing waits for an answer here: the sender stops at the next event.
            await interruption.watch(inFlight: { 0 }, grace: .zero) {}
            defer { interruption.finish() }
            try await FireAndForgetSender(
                endpoint: publish, topic: topic, headers: headerBytes, count: count, rate: rate,
                connectTimeout: timeout, curve: curve, interruption: interruption
            ).run(maker, stats: stats)
        } else {
            var options = Publisher.Options(ingest: ingest)
            options.giveUpAfter = timeout
            options.curve = curve
            let publisher = try Publisher(options)
            let stream = AckedStream(
                publisher: publisher, topic: topic, headers: headerBytes, count: count, rate: rate, window: window,
                eventID: id, echo: count == 1 && !json, interruption: interruption)
            let sending = Task { await stream.run(maker, stats: stats) }
            await interruption.watch(inFlight: { stats.inFlight }, grace: .seconds(2)) { sending.cancel() }
            await sending.value
            interruption.finish()
            await publisher.close()
        }
        await progress.stop()
        var summary = stats.snapshot(topic: topic, fireAndForget: fireAndForget)
        summary.interrupted = interruption.isSet
        if json {
            print(summary.json)
        } else if count > 1 || fireAndForget {
            print(summary.line)
        }
        if !fireAndForget, summary.acked == 0, summary.errors > 0 {
            // A secure broker tells a plain client nothing (protocol.md §7.1): say what silence may mean.
            let reason = ZMTPMechanismProbe.silenceReason(ingest, curve: curve != nil)
            let hint =
                !reason.isEmpty
                ? "hint: nothing was acknowledged by \(ingest)\(reason)\n"
                : curve == nil
                    ? "hint: nothing was acknowledged: is a broker listening at \(ingest) (`metro up` starts one)? "
                        + "If it runs with CURVE on, pass --keys DIR or set METRO_KEYS\n" : ""
            FileHandle.standardError.write(Data(hint.utf8))
        }
        if summary.interrupted { throw ExitCode(130) }
        if summary.errors > 0 || summary.sent < count { throw ExitCode(1) }
    }

    private func source(timeout: Duration, curve: CurveCredentials?) async throws -> PayloadMaker.Source {
        if example { return .examples(ExampleEvents(seed: seed, grounding: await grounding(timeout, curve))) }
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

    /// The running system's users and videos for `--example`, with one stderr line
    /// on what the examples will name or do (`ExampleGrounding`).
    private func grounding(_ timeout: Duration, _ curve: CurveCredentials?) async -> ExampleGrounding {
        guard !synthetic, ExampleGrounding.needsGrounding(topic) else {
            if let advice = ExampleGrounding.syntheticAdvice(for: topic) { note(advice) }
            return ExampleGrounding()
        }
        guard let endpoint = consume ?? (ingest == Self.defaultIngest ? Self.defaultConsume : nil) else {
            note(
                "no --consume endpoint to read the system's users from: "
                    + (ExampleGrounding().advice(for: topic) ?? ""))
            return ExampleGrounding()
        }
        do {
            let found = try await ExampleGrounding.read(
                JournalReader(consume: endpoint, timeout: timeout, curve: curve))
            if let advice = found.advice(for: topic) { note(advice) }
            return found
        } catch {
            note(
                "could not read the system's users from the journal at \(endpoint) (\(error)): the views name made-up ones"
            )
            return ExampleGrounding()
        }
    }

    static let defaultIngest = "tcp://127.0.0.1:7701"
    static let defaultConsume = "tcp://127.0.0.1:7704"

    private func note(_ text: String) {
        FileHandle.standardError.write(Data("example: \(text)\n".utf8))
    }
}
