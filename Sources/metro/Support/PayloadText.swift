import Foundation

/// How the operator commands show an event's bytes on a terminal.
enum PayloadText {
    /// The bytes as text when they are UTF-8 without control characters (one
    /// line, safe to print), else `base64:<...>`; empty bytes as `-`.
    static func oneLine(_ bytes: [UInt8]) -> String {
        if bytes.isEmpty { return "-" }
        if let text = String(validating: bytes, as: UTF8.self),
            !text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F })
        {
            return text
        }
        return "base64:" + Data(bytes).base64EncodedString()
    }

    /// The bytes as a JSON value: the parsed value when they are JSON, else a
    /// string (UTF-8 text), else `{"base64": "..."}`.
    static func jsonValue(_ bytes: [UInt8]) -> Any {
        if bytes.isEmpty { return "" }
        if let value = try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed]) {
            return value
        }
        if let text = String(validating: bytes, as: UTF8.self) { return text }
        return ["base64": Data(bytes).base64EncodedString()]
    }
}
