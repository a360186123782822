import ArgumentParser
import Foundation
import Logging
import MetroProtocol
import Synchronization

/// How a `metro` process writes its log to stderr: `text` (swift-log's
/// `StreamLogHandler`, for people) or `json` (one object per line, for log
/// shippers: Loki, Vector, Elasticsearch). `--log-format`, else
/// `$METRO_LOG_FORMAT`, else text.
enum LogFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    case text, json
}

/// One log record as one line of JSON, with a fixed key order that reads well
/// in a terminal too: `time` (UTC, milliseconds), `level`, `process` (under
/// `metro up`: the child's name), `label`, `message`, the metadata keys sorted,
/// `source`. Metadata is flat, so `jq 'select(.instance == "profiles-1")'`
/// works; a metadata key equal to one of the fixed keys gets `metadata.` in
/// front rather than hiding it. Pure: the handler and `metro up`'s child
/// output use it; tested alone.
enum JSONLogLine {
    static let fixedKeys: Set<String> = ["time", "level", "process", "label", "message", "source"]

    static func encode(
        time: Date, level: Logger.Level, label: String, message: String, metadata: Logger.Metadata,
        source: String? = nil, process: String? = nil
    ) -> String {
        var out = "{\"time\":" + quoted(timestamp(time)) + ",\"level\":" + quoted(level.rawValue)
        if let process { out += ",\"process\":" + quoted(process) }
        out += ",\"label\":" + quoted(label) + ",\"message\":" + quoted(message)
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
            out += "," + quoted(fixedKeys.contains(key) ? "metadata." + key : key) + ":" + encode(value)
        }
        if let source { out += ",\"source\":" + quoted(source) }
        return out + "}"
    }

    /// A line a child wrote, with its name: a JSON object gets `"process"`, in
    /// its place before `label` in a record of this encoder, else first; any
    /// other line (a crash's trace, a tool's output) becomes a record of its own.
    static func fromChild(_ line: String, process: String, stdout: Bool, now: Date = Date()) -> String {
        if line.hasPrefix("{"), line.hasSuffix("}"),
            (try? JSONSerialization.jsonObject(with: Data(line.utf8))) is [String: Any]
        {
            let tag = "\"process\":" + quoted(process)
            if line.hasPrefix("{\"time\":"), let label = line.range(of: ",\"label\":") {
                return line.replacingCharacters(in: label, with: "," + tag + ",\"label\":")
            }
            return "{" + tag + (line == "{}" ? "}" : "," + line.dropFirst())
        }
        return encode(
            time: now, level: stdout ? .info : .notice, label: "metro.up.output", message: line, metadata: [:],
            process: process)
    }

    /// The `message` of a JSON log line, or nil when the line is not one.
    static func message(of line: String) -> String? {
        guard line.hasPrefix("{"),
            let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        else { return nil }
        return object["message"] as? String
    }

    static func encode(_ value: Logger.MetadataValue) -> String {
        switch value {
        case .string(let s): quoted(s)
        case .stringConvertible(let c): quoted(c.description)
        case .array(let items): "[" + items.map(encode).joined(separator: ",") + "]"
        case .dictionary(let d):
            "{" + d.sorted { $0.key < $1.key }.map { quoted($0.key) + ":" + encode($0.value) }.joined(separator: ",")
                + "}"
        }
    }

    /// A JSON string, escaped as Foundation's `JSONEncoder` does (MetroProtocol's
    /// `JSONStringWriter`, tested against it over every byte).
    static func quoted(_ s: String) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(s.utf8.count + 2)
        JSONStringWriter.append(s, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func timestamp(_ time: Date) -> String {
        let ms = Int64((time.timeIntervalSince1970 * 1000).rounded(.down))
        var t = time_t(ms / 1000)
        var parts = tm()
        gmtime_r(&t, &parts)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
            parts.tm_hour, parts.tm_min, parts.tm_sec, Int32(ms % 1000))
    }
}

/// swift-log's handler for `--log-format json`: `JSONLogLine`s on stderr, one
/// `write` per line under a lock (lines of two threads never mix).
struct JSONLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?

    private static let lock = Mutex(())

    init(label: String) { self.label = label }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var all = metadata
        if let provided = metadataProvider?.get() { all.merge(provided) { _, new in new } }
        if let extra = event.metadata { all.merge(extra) { _, new in new } }
        let line =
            JSONLogLine.encode(
                time: Date(), level: event.level, label: label, message: event.message.description, metadata: all,
                source: event.source) + "\n"
        Self.lock.withLock { _ in
            line.utf8CString.withUnsafeBufferPointer { buffer in
                var done = 0
                let count = buffer.count - 1  // without the NUL
                while done < count {
                    let n = write(2, buffer.baseAddress! + done, count - done)
                    if n < 0 && errno == EINTR { continue }
                    if n <= 0 { return }
                    done += n
                }
            }
        }
    }
}
