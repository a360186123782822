import ArgumentParser
import Foundation
import MetroKit
import MetroProtocol
import ZeroMQ

/// `metro tail PREFIX...`: prints the events on those topic prefixes as they
/// travel (issue 16 §3): seq, time, topic, id, headers and payload, pretty and
/// coloured on a terminal or one JSON object per line (`--json`). `--from SEQ`,
/// `--from earliest` and `--since 5m` replay from the journal first and then go
/// live; MetroKit's gap-filling `Subscriber` (protocol.md §4.4.2, §4.9.1) makes
/// the seam exact (no duplicate, no gap) and fills any gap of the live stream
/// from the journal. Gaps it filled, and ranges the journal no longer held, are
/// reported on stderr, as are the line `tail: ... (live from seq N)` once the
/// subscription is live and, with `--from`/`--since`, how many events the
/// catch-up replayed (never called a gap): stdout holds only events, so it
/// pipes cleanly.
struct TailCommand: MetroCommand {
    static let configuration = CommandConfiguration(
        commandName: "tail", abstract: "Print the events on some topic prefixes as they travel.")

    @Argument(help: "Topic prefixes (video. , profile.created); none: every topic.")
    var prefixes: [String] = []
    @Flag(help: "One JSON object per line.")
    var json = false
    @Option(help: "Replay from this seq first (or earliest), then go live.")
    var from: String?
    @Option(help: "Replay the events of this last while first (90s, 5m, 2h, 1d), then go live.")
    var since: String?
    @Option(help: "Exit after this many events (0: run until stopped).")
    var count = 0
    @Option(help: "The broker's events (XPUB) endpoint.")
    var events = "tcp://127.0.0.1:7703"
    @Option(help: "The broker's consume endpoint (replay and gap filling).")
    var consume = "tcp://127.0.0.1:7704"
    @Option(help: "Give up on the broker after this many milliseconds.")
    var timeoutMs = 10_000
    @OptionGroup var keys: ClientKeyOptions
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        _ = try TailStart.parse(from: from, since: since)
        guard count >= 0 else { throw ValidationError("--count is 0 (no limit) or more") }
    }

    func run(_ process: ProcessBootstrap) async throws {
        let timeout = Duration.milliseconds(timeoutMs)
        let curve = try keys.load().broker
        var options = Subscriber.Options(events: events, prefixes: prefixes.isEmpty ? [""] : prefixes)
        options.consume = consume
        options.curve = curve
        options.startAt = try await TailStart.parse(from: from, since: since).startSeq(
            consume: consume, timeout: timeout, curve: curve)
        let subscriber = try Subscriber(options)
        let printer = TailPrinter(json: json, colour: !json && isatty(1) == 1)
        do {
            try await untilSignal { try await follow(subscriber, printer, timeout: timeout) }
        } catch {
            await subscriber.close()
            throw error
        }
        await subscriber.close()
    }

    private func follow(_ subscriber: Subscriber, _ printer: TailPrinter, timeout: Duration) async throws {
        let stream = subscriber.events
        let live = try await subscriber.waitUntilLive(timeout: timeout)
        note("tailing \(prefixes.isEmpty ? "every topic" : prefixes.joined(separator: " ")) (live from seq \(live))")
        var reported = DeliveryLedger()
        var n = 0
        for await event in stream {
            FileHandle.standardOutput.write(Data((printer.render(event) + "\n").utf8))
            reported = reportGaps(subscriber.ledger, since: reported)
            n += 1
            if count > 0 && n >= count { break }
        }
        _ = reportGaps(subscriber.ledger, since: reported)
    }

    /// One stderr line per change of the gap counters: what was filled from the
    /// journal, and what the journal no longer held.
    private func reportGaps(_ now: DeliveryLedger, since last: DeliveryLedger) -> DeliveryLedger {
        if (from != nil || since != nil) && now.catchUpDone && !last.catchUpDone {
            note("replayed \(now.caughtUp) events from the journal; following live")
        }
        if now.gapsFilled > last.gapsFilled {
            note("gap filled from the journal (\(now.gapsFilled) so far; \(now.recovered) events replayed in all)")
        }
        if now.lostRanges > last.lostRanges {
            note("lost: the journal no longer holds \(now.lostSeqs - last.lostSeqs) seqs of a gap (retention)")
        }
        if now.damagedRecords > last.damagedRecords {
            note(
                "lost: \(now.damagedRecords - last.damagedRecords) journal record(s) damaged on the broker's disk were skipped (the broker's log names them)"
            )
        }
        return now
    }

    private func note(_ text: String) {
        FileHandle.standardError.write(Data("tail: \(text)\n".utf8))
    }
}
