public import Foundation
import MetroProtocol

/// The headers of a Metro event as the runtime reads and writes them: a JSON object
/// with `schema` (`"<major>.<minor>"`, absent means `"1.0"`), and the correlation
/// members that flow from an rpc call or an incoming event into the events its
/// transaction publishes (`requestId`, `traceparent`). Unknown members are ignored.
public struct EventHeaders: Sendable, Equatable, Codable {
    public var schema: String
    public var requestId: String?
    public var traceparent: String?

    public init(schema: String = "1.0", requestId: String? = nil, traceparent: String? = nil) {
        self.schema = schema
        self.requestId = requestId
        self.traceparent = traceparent
    }

    /// The major version of `schema`; nil when it is not `<digits>.<digits>`.
    public var schemaMajor: Int? {
        let parts = schema.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let major = Int(parts[0]), Int(parts[1]) != nil, major >= 0,
            parts.allSatisfy({ $0.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } })
        else { return nil }
        return major
    }

    /// Reads an event's headers frame: empty is `{}`; otherwise a strict JSON object
    /// whose known members, when present, are strings. Nil describes why not.
    public static func decode(_ bytes: [UInt8]) -> Result<EventHeaders, HeadersError> {
        guard !bytes.isEmpty else { return .success(.init()) }
        guard String(validating: bytes, as: UTF8.self) != nil else { return .failure(.init("headers are not UTF-8")) }
        let object: JSONObject
        do {
            guard case .object(let o) = try StrictJSON.parse(bytes) else {
                return .failure(.init("headers are not a JSON object"))
            }
            object = o
        } catch {
            return .failure(.init("headers are not JSON: \(error)"))
        }
        func string(_ key: String) -> Result<String?, HeadersError> {
            switch object[key] {
            case nil, .null?: .success(nil)
            case .string(let s)?: .success(s)
            default: .failure(.init("headers.\(key) is not a string"))
            }
        }
        return Result { () throws(HeadersError) in
            EventHeaders(
                schema: try string("schema").get() ?? "1.0", requestId: try string("requestId").get(),
                traceparent: try string("traceparent").get())
        }
    }

    /// The headers frame (WireJSON: sorted keys; absent members left out).
    public var encoded: [UInt8] { WireJSON.encode(self) }

    public struct HeadersError: Error, Sendable, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }
}
