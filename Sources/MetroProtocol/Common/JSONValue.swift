/// A JSON value as `StrictJSON` reads it. Numbers keep their text: whether `1e3`
/// is acceptable depends on the field, so the field decides (`unsignedInteger`).
package enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    /// A number's text, as it stood in the input (RFC 8259 §6 grammar, checked).
    case number(String)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    /// A JSON integer read as an unsigned 64-bit value (protocol.md §5.2).
    package enum UnsignedReading: Equatable, Sendable {
        case value(UInt64)
        /// An integer, but negative or at least 2^64: the field's range error, not a type error.
        case outOfRange
    }

    /// This value as a "JSON integer" in Metro's sense (protocol.md §5.2): a number
    /// written `0` or `-`? followed by digits without a leading zero, with no
    /// fraction and no exponent; `-0` is not one. Nil when the value is anything
    /// else (`1.0`, `1e3`, `-0`, a string, ...): a wrong type.
    package var unsignedInteger: UnsignedReading? {
        guard case .number(let text) = self else { return nil }
        var digits = Substring(text)
        let negative = digits.first == "-"
        if negative { digits = digits.dropFirst() }
        // StrictJSON checked the grammar: only the fraction, exponent and -0 remain to refuse.
        guard !digits.isEmpty, digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        if negative { return digits == "0" ? nil : .outOfRange }
        return UInt64(digits).map { .value($0) } ?? .outOfRange
    }
}

/// A JSON object: its members in input order, keys unique (StrictJSON refuses duplicates).
package struct JSONObject: Equatable, Sendable {
    package let keys: [String]
    package let values: [JSONValue]

    init(members: [(key: String, value: JSONValue)]) {
        keys = members.map(\.key)
        values = members.map(\.value)
    }

    /// The member named exactly `key` (scalar for scalar, not by Unicode equivalence).
    package subscript(key: String) -> JSONValue? {
        keys.firstIndex { $0.utf8.elementsEqual(key.utf8) }.map { values[$0] }
    }

    package var count: Int { keys.count }
}
