import MetroProtocol
import Testing

/// `StrictJSON` (RFC 8259 exactly, no duplicate keys, no lone surrogates) and the
/// registry's "JSON integer" (protocol.md §5.2), as tables of accepted and refused input.
@Suite struct StrictJSONTests {
    static func parse(_ text: String) -> JSONValue? { try? StrictJSON.parse(Array(text.utf8)) }

    @Test(arguments: [
        "{}", "[]", "0", "-1", "1.5", "1e3", "1E+3", "-0.0e-1", "\"\"", "true", "false", "null",
        " \t\r\n{ \"a\" : [ 1 , 2 ] }\n", #"{"a":{"b":[{"c":null}]}}"#, #""\"\\\/\b\f\n\r\t""#,
        #""\u00e9\uD83D\uDE00""#, "\"é😀\"", #"{"a":1,"b":1}"#, #"{"a":1,"A":1}"#,
        // Canonically equivalent, different scalars: two keys for JSON (the registry
        // refuses them as metadata keys, a map cannot hold them apart).
        "{\"\u{e9}\":1,\"e\u{301}\":1}",
    ])
    func accepted(_ text: String) {
        #expect(Self.parse(text) != nil, "\(text)")
    }

    @Test(arguments: [
        "", " ", "{", "}", "[1,]", #"{"a":1,}"#, "[,1]", #"{,"a":1}"#, "{\"a\":1 \"b\":2}", #"{"a" 1}"#,
        #"{"a":1,"a":2}"#, #"{"a":1,"\u0061":2}"#, #"{"x":{"a":1,"a":1}}"#,
        "01", "-01", "1.", ".5", "+1", "1e", "1e+", "-", "0x10", "NaN", "Infinity", "-Infinity",
        "tru", "nul", "True", "'a'", "\"a", #""\x""#, #""\u12""#, #""\uD800""#, #""\uDC00""#,
        #""\uD800\u0041""#, "\"a\tb\"", "\"a\nb\"", "{} {}", "{}x", "\u{feff}{}", "[1 2]", "{\"a\":}",
        String(repeating: "[", count: 65) + String(repeating: "]", count: 65),
    ])
    func refused(_ text: String) {
        #expect(Self.parse(text) == nil, "\(text)")
    }

    @Test func nestingUpToTheLimitIsAccepted() {
        let deep =
            String(repeating: "[", count: StrictJSON.maxDepth) + String(repeating: "]", count: StrictJSON.maxDepth)
        #expect(Self.parse(deep) != nil)
        let hostile = String(repeating: "[", count: 60_000)
        #expect(Self.parse(hostile) == nil)
    }

    @Test func stringsAndKeysDecodeTheirEscapes() throws {
        let v = try StrictJSON.parse(Array(#"{"k\u00e9y":"a\"b\\c\u00e9\uD83D\uDE00\n"}"#.utf8))
        guard case .object(let o) = v else { Issue.record("not an object"); return }
        #expect(o.keys == ["kéy"])
        #expect(o["kéy"] == .string("a\"b\\cé😀\n"))
    }

    /// §5.2: a JSON integer is `0` or `-`? then digits without a leading zero; no
    /// fraction, no exponent, not `-0`. Out of 0..<2^64 is a range error, not a type error.
    @Test func jsonIntegers() {
        let cases: [(String, JSONValue.UnsignedReading?)] = [
            ("0", .value(0)), ("1000", .value(1000)), ("18446744073709551615", .value(.max)),
            ("18446744073709551616", .outOfRange), ("99999999999999999999999", .outOfRange),
            ("-1", .outOfRange), ("-18446744073709551616", .outOfRange),
            ("-0", nil), ("1.0", nil), ("1e3", nil), ("1E3", nil), ("0.0", nil), ("1000e0", nil),
            ("\"1000\"", nil), ("true", nil), ("null", nil), ("[1]", nil),
        ]
        for (text, expected) in cases {
            #expect(Self.parse(text)?.unsignedInteger == expected, "\(text)")
        }
    }
}
