import Foundation

/// Where `metro publish` takes each payload from: a new random example per event
/// (`--example`), or the same bytes every time (`--data`, `--file`, stdin). Unless
/// `raw`, a payload must be JSON that passes its topic's schema (`EventCatalogue`).
struct PayloadMaker: Sendable {
    enum Source: Sendable {
        case examples(ExampleEvents)
        case fixed([UInt8])
    }

    struct Invalid: Error, CustomStringConvertible {
        let description: String
    }

    let topic: String
    let raw: Bool
    private var source: Source

    /// Checks what can be checked once (a fixed payload, a known topic).
    init(topic: String, source: Source, raw: Bool) throws {
        self.topic = topic
        self.raw = raw
        self.source = source
        if case .examples = source, EventCatalogue.schemas[topic] == nil {
            throw Invalid(
                description:
                    "--example knows the topics of docs/events.md (\(EventCatalogue.topics.joined(separator: ", "))), not \(topic)"
            )
        }
        if case .fixed(let bytes) = source, !raw { try Self.check(bytes, topic: topic) }
    }

    /// The next payload.
    mutating func next() throws -> [UInt8] {
        switch source {
        case .fixed(let bytes):
            return bytes
        case .examples(var examples):
            guard let value = examples.payload(for: topic) else {
                throw Invalid(description: "no example for \(topic)")
            }
            source = .examples(examples)
            return value.bytes
        }
    }

    /// Whether `bytes` is JSON that the topic's schema accepts; throws what is wrong.
    static func check(_ bytes: [UInt8], topic: String) throws {
        guard let schema = EventCatalogue.schemas[topic] else {
            throw Invalid(
                description: "docs/events.md has no schema for \(topic): --raw publishes it unchecked "
                    + "(known: \(EventCatalogue.topics.joined(separator: ", ")))")
        }
        let value: JSONValue
        do {
            value = try JSONValue.parse(bytes)
        } catch {
            throw Invalid(description: "the payload is not JSON (--raw sends any bytes): \(error)")
        }
        let violations = schema.violations(of: value)
        guard violations.isEmpty else {
            throw Invalid(
                description: "the payload does not match \(topic) 1.0 (docs/events.md; --raw skips the check):\n  "
                    + violations.joined(separator: "\n  "))
        }
    }

    /// Headers must be a JSON object of string values (protocol.md §4.1) unless raw.
    static func checkHeaders(_ bytes: [UInt8]) throws {
        guard case .object(let members)? = try? JSONValue.parse(bytes),
            members.values.allSatisfy({ if case .string = $0 { true } else { false } })
        else { throw Invalid(description: "--headers must be a JSON object of string values (protocol.md §4.1)") }
    }
}
