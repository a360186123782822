import Foundation
import MetroKit
import MetroProtocol

/// One `ServiceDefinition.on(...)`, with its payload type erased: the runtime joins
/// `group` with `topics` as prefixes and calls `handle` for each delivery.
struct EventHandlerRegistration: Sendable {
    let group: String
    let topics: [String]
    let concurrency: Int
    /// The schema major this handler reads; other majors are rejected (dead-lettered).
    let schemaMajor: Int
    /// Decodes the payload (throwing `EventRejection` when it does not decode) and runs the handler.
    let handle: @Sendable (Consumer.Delivery, EventHeaders, EventContext) async throws -> Void
    /// Takes dead letters (`ServiceDefinition.onDeadLetters`): their headers are the
    /// broker's (`DeadLetterHeaders`, read by `handle`), not an event's, so the
    /// runtime's headers and schema checks do not apply.
    var readsDeadLetters = false
}

/// Decodes event payloads strictly, by the same rules as rpc bodies
/// (`StrictJSONDecoder`, protocol.md §5.2): one RFC 8259 JSON text without duplicate
/// member names, and integer fields take JSON integers only (`1.0`, `1e3`, `-0` are
/// refused). Foundation's decoder alone would keep the last of two duplicate keys
/// and read `1.0` as 1: a payload two readers can read two ways is rejected.
enum StrictEventDecoder {
    static func decode<T: Decodable>(_ type: T.Type, from payload: [UInt8]) throws(EventRejection) -> T {
        guard String(validating: payload, as: UTF8.self) != nil else {
            throw EventRejection("payload is not UTF-8 JSON")
        }
        do {
            return try StrictJSONDecoder().decode(T.self, from: payload)
        } catch let error as StrictJSON.SyntaxError {
            throw EventRejection("payload is not JSON: \(error)")
        } catch {
            throw EventRejection("payload does not decode as \(T.self): \(Self.describe(error))")
        }
    }

    /// A one-line reason (the dead-letter detail holds at most 256 bytes).
    static func describe(_ error: any Error) -> String {
        guard let e = error as? DecodingError else { return "\(error)" }
        func path(_ c: DecodingError.Context) -> String {
            c.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        switch e {
        case .keyNotFound(let key, let c): return "missing \(path(c).isEmpty ? "" : path(c) + ".")\(key.stringValue)"
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c):
            return "\(path(c).isEmpty ? "value" : path(c)): \(c.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}
