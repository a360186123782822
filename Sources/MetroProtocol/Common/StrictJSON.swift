/// A strict reader of JSON bodies (protocol.md §5.2 "JSON bodies"): RFC 8259's
/// grammar exactly, plus the I-JSON rules of RFC 7493 that matter for a request
/// (no duplicate member names, no lone surrogates in strings), and nothing more.
///
/// Why not Foundation: `JSONSerialization`/`JSONDecoder` accept what a contract
/// must refuse. They keep the last of two duplicate keys, so a client and the
/// registry can read different values from one body; they accept trailing commas
/// (JSON5), and they decode `1e3`, `1.0` and `-0` into integer fields. A contract
/// whose bodies two parsers can read two ways is not a contract, so Metro reads
/// request bodies with this reader, and numbers stay as their text until a
/// field asks for an integer (`JSONValue.integer`).
///
/// No I/O, no Foundation; nesting is bounded (`maxDepth`) so hostile input cannot
/// exhaust the stack.
package enum StrictJSON {
    /// Arrays and objects nest at most this deep; deeper input is refused.
    package static let maxDepth = 64

    /// Parses one JSON text. `bytes` MUST be valid UTF-8 (the caller checks, to
    /// answer 103 before 104). Throws `SyntaxError` with a short reason.
    package static func parse(_ bytes: [UInt8]) throws(SyntaxError) -> JSONValue {
        var reader = Reader(bytes: bytes)
        reader.skipWhitespace()
        let value = try reader.value(depth: 0)
        reader.skipWhitespace()
        guard reader.at == bytes.count else { throw reader.error("bytes after the JSON value") }
        return value
    }

    /// Why a text is not (strict) JSON, and the byte offset where that was found.
    package struct SyntaxError: Error, Hashable, Sendable, CustomStringConvertible {
        package let reason: String
        package let offset: Int
        package var description: String { "\(reason) at byte \(offset)" }
    }

    struct Reader {
        let bytes: [UInt8]
        var at = 0

        func error(_ reason: String) -> SyntaxError { SyntaxError(reason: reason, offset: at) }

        var peek: UInt8? { at < bytes.count ? bytes[at] : nil }

        mutating func skipWhitespace() {
            // RFC 8259 §2: space, tab, line feed, carriage return; nothing else.
            while let b = peek, b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D { at += 1 }
        }

        mutating func expect(_ literal: String, _ value: JSONValue) throws(SyntaxError) -> JSONValue {
            let want = Array(literal.utf8)
            guard bytes.count - at >= want.count, Array(bytes[at..<at + want.count]) == want else {
                throw error("not a JSON value")
            }
            at += want.count
            return value
        }

        mutating func value(depth: Int) throws(SyntaxError) -> JSONValue {
            guard let b = peek else { throw error("a value is missing") }
            switch b {
            case UInt8(ascii: "{"): return try object(depth: depth + 1)
            case UInt8(ascii: "["): return try array(depth: depth + 1)
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): return try expect("true", .bool(true))
            case UInt8(ascii: "f"): return try expect("false", .bool(false))
            case UInt8(ascii: "n"): return try expect("null", .null)
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
            default: throw error("not a JSON value")
            }
        }

        mutating func object(depth: Int) throws(SyntaxError) -> JSONValue {
            guard depth <= StrictJSON.maxDepth else { throw error("nested deeper than \(StrictJSON.maxDepth)") }
            at += 1  // {
            var members: [(key: String, value: JSONValue)] = []
            var seen = Set<[UInt8]>()
            skipWhitespace()
            if peek == UInt8(ascii: "}") {
                at += 1
                return .object(JSONObject(members: members))
            }
            while true {
                skipWhitespace()
                guard peek == UInt8(ascii: "\"") else { throw error("an object member must start with a string key") }
                let keyAt = at
                let key = try string()
                // Compared as scalars, not as Swift Strings (which equate canonically equivalent text).
                guard seen.insert(Array(key.utf8)).inserted else {
                    throw SyntaxError(reason: "duplicate key \"\(key.prefix(64))\"", offset: keyAt)
                }
                skipWhitespace()
                guard peek == UInt8(ascii: ":") else { throw error("':' expected after an object key") }
                at += 1
                skipWhitespace()
                members.append((key, try value(depth: depth)))
                skipWhitespace()
                switch peek {
                case UInt8(ascii: ","):
                    at += 1
                    skipWhitespace()
                    if peek == UInt8(ascii: "}") { throw error("trailing comma in an object") }
                case UInt8(ascii: "}"):
                    at += 1
                    return .object(JSONObject(members: members))
                default: throw error("',' or '}' expected in an object")
                }
            }
        }

        mutating func array(depth: Int) throws(SyntaxError) -> JSONValue {
            guard depth <= StrictJSON.maxDepth else { throw error("nested deeper than \(StrictJSON.maxDepth)") }
            at += 1  // [
            var elements: [JSONValue] = []
            skipWhitespace()
            if peek == UInt8(ascii: "]") {
                at += 1
                return .array(elements)
            }
            while true {
                skipWhitespace()
                elements.append(try value(depth: depth))
                skipWhitespace()
                switch peek {
                case UInt8(ascii: ","):
                    at += 1
                    skipWhitespace()
                    if peek == UInt8(ascii: "]") { throw error("trailing comma in an array") }
                case UInt8(ascii: "]"):
                    at += 1
                    return .array(elements)
                default: throw error("',' or ']' expected in an array")
                }
            }
        }
    }
}
