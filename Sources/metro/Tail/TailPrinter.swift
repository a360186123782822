import Foundation
import MetroProtocol

/// How `metro tail` shows an event: with `json`, one JSON object per line
/// (`seq`, `time` as ISO 8601 with milliseconds, `timeNs`, `topic`, `id`,
/// `headers`, `payload`; headers and payload as JSON values when they are JSON,
/// else as a string, else as `{"base64": ...}`); otherwise a header line and the
/// payload pretty-printed, coloured when `colour` (stdout is a terminal).
struct TailPrinter {
    let json: Bool
    let colour: Bool

    func render(_ event: LiveEvent) -> String {
        json ? jsonLine(event) : pretty(event)
    }

    static func isoTime(_ ns: UInt64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date(timeIntervalSince1970: Double(ns / 1_000_000) / 1000))
    }

    static func value(_ bytes: [UInt8]) -> JSONValue {
        if bytes.isEmpty { return .string("") }
        if let parsed = try? JSONValue.parse(bytes) { return parsed }
        if let text = String(validating: bytes, as: UTF8.self) { return .string(text) }
        return .object(["base64": .string(Data(bytes).base64EncodedString())])
    }

    func jsonLine(_ e: LiveEvent) -> String {
        let line: JSONValue = .object([
            "seq": .integer(Int64(bitPattern: e.seq)), "time": .string(Self.isoTime(e.time)),
            "timeNs": .integer(Int64(bitPattern: e.time)), "topic": .string(e.topic),
            "id": .string(String(decoding: e.eventID, as: UTF8.self)), "headers": Self.value(e.headers),
            "payload": Self.value(e.payload),
        ])
        return String(decoding: line.bytes, as: UTF8.self)
    }

    func pretty(_ e: LiveEvent) -> String {
        let id = e.eventID.isEmpty ? "-" : String(decoding: e.eventID, as: UTF8.self)
        var text =
            paint("#\(e.seq)", "2") + "  " + Self.isoTime(e.time) + "  " + paint(e.topic, "1;36") + "  id "
            + id
        if !e.headers.isEmpty { text += "\n  headers " + PayloadText.oneLine(e.headers) }
        if let payload = try? JSONValue.parse(e.payload) {
            text += "\n" + render(payload, indent: "  ")
        } else {
            text += "\n  " + PayloadText.oneLine(e.payload)
        }
        return text
    }

    private func paint(_ s: String, _ code: String) -> String {
        colour ? "\u{1B}[\(code)m\(s)\u{1B}[0m" : s
    }

    private func scalar(_ v: JSONValue) -> String {
        let text = String(decoding: v.bytes, as: UTF8.self)
        switch v {
        case .string: return paint(text, "32")
        case .integer, .number: return paint(text, "33")
        case .bool, .null: return paint(text, "35")
        default: return text
        }
    }

    /// Pretty JSON with sorted keys, two spaces per level, starting at `indent`.
    func render(_ v: JSONValue, indent: String) -> String {
        indent + body(v, indent: indent)
    }

    private func body(_ v: JSONValue, indent: String) -> String {
        let inner = indent + "  "
        switch v {
        case .object(let members) where !members.isEmpty:
            let lines = members.sorted { $0.key < $1.key }.map { key, value in
                inner + paint("\"\(key)\"", "34") + ": " + body(value, indent: inner)
            }
            return "{\n" + lines.joined(separator: ",\n") + "\n" + indent + "}"
        case .array(let items) where !items.isEmpty:
            return "[\n" + items.map { inner + body($0, indent: inner) }.joined(separator: ",\n") + "\n" + indent + "]"
        default:
            return scalar(v)
        }
    }
}
