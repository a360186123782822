import Foundation
import MetroProtocol

/// What an operator did with a dead letter, as a record in the journal: an
/// acknowledged event on `metro.dlq.resolved` whose payload names the dead
/// letter's seq and the action. The journal is append-only, so a dead letter is
/// never removed; `metro dlq list` reads these records back (by replay, like the
/// dead letters) and hides what they resolve, so every operator, on any host,
/// sees the same state. The record's event id is derived from the dead letter's
/// seq and the action, so writing it twice within the dedupe window stores it once.
struct DlqResolution: Sendable, Equatable {
    enum Action: String, Sendable {
        /// Re-published to its original topic (`republishedId`, `republishedSeq`).
        case republished
        /// Marked resolved without re-publishing.
        case purged
    }

    static let topic = "metro.dlq.resolved"

    let deadLetterSeq: UInt64
    let action: Action
    let republishedID: String?
    let republishedSeq: UInt64?
    /// Who did it (`user@host`) and when (ns since the Unix epoch).
    let by: String
    let time: UInt64

    var eventID: String { "dlq-resolved-\(deadLetterSeq)-\(action.rawValue)" }

    var json: [String: Any] {
        var object: [String: Any] = [
            "deadLetterSeq": deadLetterSeq, "action": action.rawValue, "by": by, "time": TailPrinter.isoTime(time),
        ]
        if let republishedID { object["republishedId"] = republishedID }
        if let republishedSeq { object["republishedSeq"] = republishedSeq }
        return object
    }

    var payload: [UInt8] {
        var object = json
        object["time"] = time
        let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        return Array(data ?? Data())
    }

    init(
        deadLetterSeq: UInt64, action: Action, republishedID: String? = nil, republishedSeq: UInt64? = nil,
        by: String = DlqResolution.operatorName, time: UInt64 = UInt64(Date().timeIntervalSince1970 * 1e9)
    ) {
        self.deadLetterSeq = deadLetterSeq
        self.action = action
        self.republishedID = republishedID
        self.republishedSeq = republishedSeq
        self.by = by
        self.time = time
    }

    /// Nil for an event on the topic that is not a record of this shape.
    init?(_ event: LiveEvent) {
        guard event.topic == Self.topic,
            let object = try? JSONSerialization.jsonObject(with: Data(event.payload)) as? [String: Any],
            let seq = (object["deadLetterSeq"] as? NSNumber)?.uint64Value,
            let action = (object["action"] as? String).flatMap(Action.init(rawValue:))
        else { return nil }
        self.init(
            deadLetterSeq: seq, action: action, republishedID: object["republishedId"] as? String,
            republishedSeq: (object["republishedSeq"] as? NSNumber)?.uint64Value,
            by: object["by"] as? String ?? "?", time: (object["time"] as? NSNumber)?.uint64Value ?? event.time)
    }

    static var operatorName: String {
        let user = ProcessInfo.processInfo.environment["USER"] ?? "uid\(getuid())"
        return "\(user)@\(ProcessInfo.processInfo.hostName)"
    }
}

/// The dead letters and their resolutions, read from the journal in one replay
/// of both topics: the state every `metro dlq` subcommand starts from.
struct DlqBook: Sendable {
    let deadLetters: [DeadLetter]
    /// The first resolution of each dead letter, by its seq.
    let resolutions: [UInt64: DlqResolution]

    static func read(_ reader: JournalReader) async throws -> DlqBook {
        let events = try await reader.events(prefixes: [DeadLetter.topicPrefix, DlqResolution.topic])
        var letters: [DeadLetter] = []
        var resolutions: [UInt64: DlqResolution] = [:]
        for event in events {
            if let letter = DeadLetter(event) {
                letters.append(letter)
            } else if let resolution = DlqResolution(event), resolutions[resolution.deadLetterSeq] == nil {
                resolutions[resolution.deadLetterSeq] = resolution
            }
        }
        return DlqBook(deadLetters: letters, resolutions: resolutions)
    }

    /// The dead letters not resolved yet, optionally of one group and original-topic prefix.
    func open(group: String? = nil, topicPrefix: String? = nil) -> [DeadLetter] {
        deadLetters.filter {
            resolutions[$0.seq] == nil && (group == nil || $0.group == group)
                && (topicPrefix == nil || $0.topic.hasPrefix(topicPrefix!))
        }
    }

    func letter(_ seq: UInt64) -> DeadLetter? { deadLetters.first { $0.seq == seq } }
}
