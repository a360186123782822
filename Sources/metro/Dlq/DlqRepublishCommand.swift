import ArgumentParser
import Foundation
import MetroKit
import MetroProtocol

/// `metro dlq republish`: sends dead letters back to their original topic after
/// a fix, by acknowledged publish, under a new event id derived from the dead
/// letter (`DeadLetter.republishID`) with headers that link to the original
/// (`dlqOriginalId`, `dlqOriginalSeq`, `dlqSeq`, `dlqGroup`, `dlqReason`), then
/// journals a `republished` resolution record. Idempotent per dead letter, twice
/// over: a dead letter with a `republished` record is skipped, and a re-run that
/// comes before the record (a crash between the two publishes, two operators at
/// once) re-sends the same id, which the broker's dedupe window answers with the
/// first copy's seq instead of storing it again (protocol.md §4.2.3).
struct DlqRepublishCommand: MetroCommand {
    static let configuration = CommandConfiguration(
        commandName: "republish", abstract: "Re-publish dead letters to their original topic, with a new event id.")

    @Argument(help: "Dead letters' seqs (the SEQ column of metro dlq list).")
    var seqs: [UInt64] = []
    @Option(help: "Every open dead letter of this group.")
    var group: String?
    @Option(help: "With --group or --all: only those whose original topic starts with this.")
    var topicPrefix: String?
    @Flag(help: "Every open dead letter of every group.")
    var all = false
    @OptionGroup var dlq: DlqOptions
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        let ways = [!seqs.isEmpty, group != nil, all].filter { $0 }.count
        guard ways == 1 else { throw ValidationError("give dead letters' seqs, or --group G, or --all (one of them)") }
        guard topicPrefix == nil || seqs.isEmpty else {
            throw ValidationError("--topic-prefix filters --group or --all, not a list of seqs")
        }
    }

    func run(_ process: ProcessBootstrap) async throws {
        let book = try await DlqBook.read(try dlq.reader)
        let targets: [DeadLetter]
        if seqs.isEmpty {
            targets = book.open(group: group, topicPrefix: topicPrefix)
        } else {
            targets = try seqs.map { seq in
                guard let letter = book.letter(seq) else {
                    throw ValidationError("no dead letter has seq \(seq) in the journal (metro dlq list shows them)")
                }
                return letter
            }
        }
        var failures = 0
        try await dlq.withPublisher { publisher in
            for letter in targets {
                if let done = book.resolutions[letter.seq], done.action == .republished {
                    print(
                        "#\(letter.seq) already republished as \(done.republishedID ?? "?") "
                            + "seq \(done.republishedSeq.map(String.init) ?? "?") by \(done.by): skipped")
                    continue
                }
                do {
                    let seq = try await republish(letter, with: publisher)
                    print(
                        "#\(letter.seq) (\(letter.group), \(letter.reason)) republished to \(letter.topic) "
                            + "as id \(letter.republishID) seq \(seq)")
                } catch {
                    failures += 1
                    FileHandle.standardError.write(Data("error: #\(letter.seq): \(error)\n".utf8))
                }
            }
        }
        if targets.isEmpty { print("no open dead letters to republish") }
        if failures > 0 { throw ExitCode(1) }
    }

    /// The event, then its resolution record: a crash between the two leaves the
    /// dead letter open, and the next run's resend is caught by dedupe.
    private func republish(_ letter: DeadLetter, with publisher: Publisher) async throws -> UInt64 {
        let headers = try JSONSerialization.data(withJSONObject: letter.republishHeaders, options: [.sortedKeys])
        let seq = try await publisher.publish(
            topic: letter.topic, payload: letter.payload, headers: Array(headers),
            eventID: Array(letter.republishID.utf8))
        let resolution = DlqResolution(
            deadLetterSeq: letter.seq, action: .republished, republishedID: letter.republishID, republishedSeq: seq)
        try await dlq.record(resolution, with: publisher)
        return seq
    }
}

/// `metro dlq purge`: marks open dead letters resolved without re-publishing
/// them. The journal is append-only: the dead letters stay in it (replay still
/// reads them, `metro dlq list --resolved` shows them); a `purged` resolution
/// record per dead letter hides it from `metro dlq list` for every operator.
/// Asks on a terminal; without one it refuses unless `--yes`.
struct DlqPurgeCommand: MetroCommand {
    static let configuration = CommandConfiguration(
        commandName: "purge", abstract: "Mark dead letters resolved (kept in the journal, no longer listed).")

    @Argument(help: "Dead letters' seqs (the SEQ column of metro dlq list); none: every open one (or --group's).")
    var seqs: [UInt64] = []
    @Option(help: "Only this group's dead letters (default: every group's).")
    var group: String?
    @Flag(help: "Do not ask (required when stdin is not a terminal); seqs named one by one need no asking.")
    var yes = false
    @OptionGroup var dlq: DlqOptions
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        guard seqs.isEmpty || group == nil else {
            throw ValidationError("give dead letters' seqs or --group, not both")
        }
    }

    func run(_ process: ProcessBootstrap) async throws {
        let book = try await DlqBook.read(try dlq.reader)
        let open = book.open(group: group)
        let targets: [DeadLetter]
        if seqs.isEmpty {
            targets = open
        } else {
            let openSeqs = Set(open.map(\.seq))
            targets = try seqs.map { seq in
                guard let letter = book.letter(seq) else {
                    throw ValidationError("no dead letter has seq \(seq) in the journal (metro dlq list shows them)")
                }
                guard openSeqs.contains(seq) else {
                    throw ValidationError("dead letter \(seq) is resolved already (metro dlq show \(seq) says how)")
                }
                return letter
            }
        }
        guard !targets.isEmpty else {
            print("no open dead letters\(group.map { " in group \($0)" } ?? "") to purge")
            return
        }
        let what =
            "\(targets.count) dead letter\(targets.count == 1 ? "" : "s")\(group.map { " of group \($0)" } ?? "")"
        if !yes && seqs.isEmpty {
            guard isatty(0) == 1 else {
                FileHandle.standardError.write(
                    Data("error: refusing to purge \(what) without --yes: stdin is not a terminal\n".utf8))
                throw ExitCode(2)
            }
            FileHandle.standardError.write(
                Data("purge \(what)? They stay in the journal but are no longer listed. [y/N] ".utf8))
            guard let answer = readLine(), ["y", "yes"].contains(answer.lowercased()) else {
                print("nothing purged")
                return
            }
        }
        try await dlq.withPublisher { publisher in
            for letter in targets {
                try await dlq.record(DlqResolution(deadLetterSeq: letter.seq, action: .purged), with: publisher)
            }
        }
        print("purged \(what) (seqs \(targets.map { String($0.seq) }.joined(separator: " ")))")
    }
}
