import ArgumentParser
import Foundation
import MetroKit
import MetroProtocol

/// `metro dlq`: the dead letters of every consumer group (protocol.md §4.10,
/// "Dead letters"), read back from the journal, which is the source of truth:
/// list them, show one, re-publish them to their original topic after a fix, or
/// mark them resolved (purge). The workflow is in docs/operations.md, "Dead letters".
struct DlqCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dlq", abstract: "List, inspect, re-publish and purge dead-lettered events.",
        subcommands: [DlqListCommand.self, DlqShowCommand.self, DlqRepublishCommand.self, DlqPurgeCommand.self])
}

/// The broker endpoints every `metro dlq` subcommand takes.
struct DlqOptions: ParsableArguments {
    @Option(help: "The broker's consume endpoint (replay of the dead letters).")
    var consume = "tcp://127.0.0.1:7704"
    @Option(help: "The broker's ingest endpoint (re-publish and resolution records).")
    var ingest = "tcp://127.0.0.1:7701"
    @Option(help: "Give up on the broker after this many milliseconds.")
    var timeoutMs = 10_000
    @OptionGroup var keys: ClientKeyOptions

    var reader: JournalReader {
        get throws {
            JournalReader(consume: consume, timeout: .milliseconds(timeoutMs), curve: try keys.load().broker)
        }
    }

    /// A publisher for acknowledged publishes, closed after `body`.
    func withPublisher<T>(_ body: (Publisher) async throws -> T) async throws -> T {
        var options = Publisher.Options(ingest: ingest)
        options.giveUpAfter = .milliseconds(timeoutMs)
        options.curve = try keys.load().broker
        let publisher = try Publisher(options)
        do {
            let result = try await body(publisher)
            await publisher.close()
            return result
        } catch {
            await publisher.close()
            throw error
        }
    }

    /// Journals a resolution record (acknowledged); returns its seq.
    @discardableResult
    func record(_ resolution: DlqResolution, with publisher: Publisher) async throws -> UInt64 {
        try await publisher.publish(
            topic: DlqResolution.topic, payload: resolution.payload, eventID: Array(resolution.eventID.utf8))
    }
}

/// `metro dlq list`: the open dead letters, as an aligned table or one JSON object.
struct DlqListCommand: MetroCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List the dead letters not resolved yet, per group.")

    @Option(help: "Only this group's dead letters.")
    var group: String?
    @Flag(help: "Also list the resolved ones (republished or purged), with their resolution.")
    var resolved = false
    @Flag(help: #"Print one JSON object: {"deadLetters": [...]}."#)
    var json = false
    @OptionGroup var dlq: DlqOptions
    @OptionGroup var global: GlobalOptions

    func run(_ process: ProcessBootstrap) async throws {
        let book = try await DlqBook.read(try dlq.reader)
        let letters =
            resolved ? book.deadLetters.filter { group == nil || $0.group == group } : book.open(group: group)
        if json {
            let objects = letters.map { $0.json(resolution: book.resolutions[$0.seq]) }
            print(DlqText.json(["deadLetters": objects]))
        } else {
            print(DlqText.table(letters, resolutions: book.resolutions), terminator: "")
        }
    }
}

/// `metro dlq show SEQ`: one dead letter, everything it carries, payload pretty-printed.
struct DlqShowCommand: MetroCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "Show one dead letter (by its own seq) with its payload.")

    @Argument(help: "The dead letter's seq (the SEQ column of metro dlq list).")
    var seq: UInt64
    @Flag(help: "Print one JSON object.")
    var json = false
    @OptionGroup var dlq: DlqOptions
    @OptionGroup var global: GlobalOptions

    func run(_ process: ProcessBootstrap) async throws {
        let book = try await DlqBook.read(try dlq.reader)
        guard let letter = book.letter(seq) else {
            throw ValidationError("no dead letter has seq \(seq) in the journal (metro dlq list shows them)")
        }
        let resolution = book.resolutions[seq]
        if json {
            print(DlqText.json(letter.json(resolution: resolution)))
        } else {
            print(DlqText.detail(letter, resolution: resolution, colour: isatty(1) == 1))
        }
    }
}
