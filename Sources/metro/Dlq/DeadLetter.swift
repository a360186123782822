import Foundation
import MetroProtocol

/// A dead letter as the journal holds it (protocol.md §4.10, "Dead letters"): an
/// event on `$metro.dead.<group>` with the original event's id and payload and,
/// as headers, why and where it died. Parsed from the replayed event.
struct DeadLetter: Sendable {
    /// The dead letter's own seq: the handle `metro dlq show/republish` take.
    let seq: UInt64
    /// When the broker dead-lettered it, ns since the Unix epoch.
    let time: UInt64
    let group: String
    /// `ack-timeout`, `nak`, `member-lost` or `rejected`.
    let reason: String
    /// The member's REJECT text, for `rejected`.
    let detail: String?
    let deliveries: Int
    /// The original event's topic and seq.
    let topic: String
    let originalSeq: UInt64
    let originalID: [UInt8]
    let payload: [UInt8]
    let headers: [String: String]

    static let topicPrefix = "$metro.dead."

    /// Nil for an event that is not a dead letter of the shape §4.10 gives.
    init?(_ event: LiveEvent) {
        guard event.topic.hasPrefix(Self.topicPrefix),
            let object = try? JSONSerialization.jsonObject(with: Data(event.headers)) as? [String: Any]
        else { return nil }
        let headers = object.compactMapValues { $0 as? String }
        guard let group = headers["group"], let reason = headers["reason"], let topic = headers["topic"],
            let seq = headers["seq"].flatMap(UInt64.init), let deliveries = headers["deliveries"].flatMap(Int.init)
        else { return nil }
        self.seq = event.seq
        self.time = event.time
        self.group = group
        self.reason = reason
        self.detail = headers["detail"]
        self.deliveries = deliveries
        self.topic = topic
        self.originalSeq = seq
        self.originalID = event.eventID
        self.payload = event.payload
        self.headers = headers
    }

    var originalIDText: String { String(decoding: originalID, as: UTF8.self) }

    /// The id the re-published event gets: derived from this dead letter alone
    /// (`dlq-<seq>-` and the original id, cut to the 64-byte limit of §2.5), so
    /// every run, by any operator, republishes it under the same id and the
    /// broker's dedupe window (§4.2.3) stores it at most once.
    var republishID: String {
        var id = "dlq-\(seq)-"
        for ch in originalIDText where id.utf8.count + String(ch).utf8.count <= 64 { id.append(ch) }
        return id
    }

    /// The headers of the re-published event: a link to what it re-publishes
    /// (docs/operations.md, "Dead letters"; docs/events.md §1).
    var republishHeaders: [String: String] {
        [
            "dlqOriginalId": originalIDText, "dlqOriginalSeq": String(originalSeq), "dlqSeq": String(seq),
            "dlqGroup": group, "dlqReason": reason,
        ]
    }

    /// One JSON object for `--json` and `show`.
    func json(resolution: DlqResolution?) -> [String: Any] {
        var object: [String: Any] = [
            "seq": seq, "time": TailPrinter.isoTime(time), "group": group, "reason": reason,
            "deliveries": deliveries, "topic": topic, "originalSeq": originalSeq, "originalId": originalIDText,
            "payload": PayloadText.jsonValue(payload),
        ]
        if let detail { object["detail"] = detail }
        if let resolution { object["resolution"] = resolution.json }
        return object
    }
}
