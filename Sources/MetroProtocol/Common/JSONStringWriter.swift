/// Writes a JSON string literal byte for byte as Foundation's `JSONEncoder` does
/// (`"` and `\` escaped; `\b \t \n \f \r`; other controls as `\u00xx`; everything
/// else, `/` and non-ASCII included, as its UTF-8), for the small wire objects
/// built on hot paths where a `JSONEncoder` per call costs more than the call
/// (`RpcHeaders.encode`: ~1.5% of the gateway's CPU per request). Tests compare it
/// with `WireJSON` over every ASCII byte and beyond.
package enum JSONStringWriter {
    package static func append(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
            case UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case 0x08: out += [UInt8(ascii: "\\"), UInt8(ascii: "b")]
            case 0x09: out += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case 0x0A: out += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case 0x0C: out += [UInt8(ascii: "\\"), UInt8(ascii: "f")]
            case 0x0D: out += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out += Array("\\u00".utf8) + [hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]]
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// `"key":` followed by `value` as a string.
    package static func appendMember(_ key: String, _ value: String, to out: inout [UInt8]) {
        append(key, to: &out)
        out.append(UInt8(ascii: ":"))
        append(value, to: &out)
    }
}
