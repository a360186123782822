/// Strings and numbers of `StrictJSON` (RFC 8259 §6, §7).
extension StrictJSON.Reader {
    /// A string, the reader at its opening quote. Control characters must be escaped;
    /// `\u` escapes of surrogates must form a pair (RFC 7493 §2.1).
    mutating func string() throws(StrictJSON.SyntaxError) -> String {
        at += 1  // "
        var out: [UInt8] = []
        while true {
            guard let b = peek else { throw error("unterminated string") }
            at += 1
            switch b {
            case UInt8(ascii: "\""):
                return String(decoding: out, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard let e = peek else { throw error("unterminated string") }
                at += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"): out += Array(String(Character(try unicodeEscape())).utf8)
                default: throw error("invalid escape in a string")
                }
            case 0x00..<0x20:
                throw error("unescaped control character in a string")
            default:
                out.append(b)  // the body is valid UTF-8 already (checked before parsing)
            }
        }
    }

    /// The scalar of a `\uXXXX` escape (the reader just past the `u`), joining a
    /// surrogate pair.
    private mutating func unicodeEscape() throws(StrictJSON.SyntaxError) -> Unicode.Scalar {
        let first = try hex4()
        switch first {
        case 0xD800...0xDBFF:
            guard bytes.count - at >= 6, bytes[at] == UInt8(ascii: "\\"), bytes[at + 1] == UInt8(ascii: "u") else {
                throw error("a high surrogate escape without its low surrogate")
            }
            at += 2
            let second = try hex4()
            guard (0xDC00...0xDFFF).contains(second) else {
                throw error("a high surrogate escape without its low surrogate")
            }
            return Unicode.Scalar(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00))!
        case 0xDC00...0xDFFF:
            throw error("a lone low surrogate escape")
        default:
            return Unicode.Scalar(first)!
        }
    }

    private mutating func hex4() throws(StrictJSON.SyntaxError) -> UInt32 {
        guard bytes.count - at >= 4 else { throw error("\\u needs four hex digits") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let b = bytes[at]
            let d: UInt8
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = b - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = b - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = b - UInt8(ascii: "A") + 10
            default: throw error("\\u needs four hex digits")
            }
            v = v << 4 | UInt32(d)
            at += 1
        }
        return v
    }

    /// A number's text, checked against RFC 8259 §6:
    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    mutating func number() throws(StrictJSON.SyntaxError) -> String {
        let start = at
        if peek == UInt8(ascii: "-") { at += 1 }
        guard let lead = peek, isDigit(lead) else { throw error("a number needs a digit") }
        at += 1
        if lead == UInt8(ascii: "0") {
            if let b = peek, isDigit(b) { throw error("a number with a leading zero") }
        } else {
            skipDigits()
        }
        if peek == UInt8(ascii: ".") {
            at += 1
            guard let b = peek, isDigit(b) else { throw error("a fraction needs a digit") }
            skipDigits()
        }
        if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
            at += 1
            if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { at += 1 }
            guard let b = peek, isDigit(b) else { throw error("an exponent needs a digit") }
            skipDigits()
        }
        return String(decoding: bytes[start..<at], as: UTF8.self)
    }

    private mutating func skipDigits() {
        while let b = peek, isDigit(b) { at += 1 }
    }

    private func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }
}
