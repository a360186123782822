import Foundation
import MetroProtocol
import Testing

/// `StrictJSONDecoder`: what `JSONEncoder` writes comes back; what §5.2 refuses is refused.
@Suite struct StrictJSONDecoderTests {
    enum Kind: String, Codable, Equatable { case a, b }
    struct Inner: Codable, Equatable { var n: UInt8; var tags: [String] }
    struct Outer: Codable, Equatable {
        var id: String
        var count: Int
        var big: UInt64
        var ratio: Double
        var flag: Bool
        var note: String?
        var kind: Kind
        var inner: Inner
        var list: [Inner]
        var map: [String: Int]
        var blob: Data
        var link: URL
        var maybe: [Int?]
    }

    static let sample = Outer(
        id: "u-1", count: -42, big: .max, ratio: 0.25, flag: true, note: nil, kind: .b,
        inner: Inner(n: 255, tags: ["x", "é"]), list: [Inner(n: 0, tags: [])], map: ["k": 1],
        blob: Data([0, 1, 2, 255]), link: URL(string: "https://example.com/a?b=c")!, maybe: [1, nil, 3])

    func decode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T {
        try StrictJSONDecoder().decode(type, from: Array(text.utf8))
    }

    @Test func whatJSONEncoderWritesDecodes() throws {
        let bytes = Array(try JSONEncoder().encode(Self.sample))
        #expect(try StrictJSONDecoder().decode(Outer.self, from: bytes) == Self.sample)
    }

    @Test func integersAreJSONIntegersOnly() throws {
        struct N: Decodable { var n: Int }
        struct Small: Decodable { var n: UInt8 }
        #expect(try decode(N.self, #"{"n":-7}"#).n == -7)
        for text in [#"{"n":1.0}"#, #"{"n":1e3}"#, #"{"n":1E3}"#, #"{"n":-0}"#, #"{"n":"1"}"#, #"{"n":null}"#] {
            #expect(throws: DecodingError.self, "\(text)") { try decode(N.self, text) }
        }
        #expect(throws: DecodingError.self) { try decode(Small.self, #"{"n":256}"#) }
        #expect(throws: DecodingError.self) { try decode(N.self, #"{"n":99999999999999999999}"#) }
    }

    @Test func missingWrongAndUnknownMembers() throws {
        struct S: Decodable { var s: String; var o: String? }
        #expect(try decode(S.self, #"{"s":"a","extra":[1,{"x":null}]}"#).o == nil)
        #expect(try decode(S.self, #"{"s":"a","o":null}"#).o == nil)
        #expect(throws: DecodingError.self) { try decode(S.self, #"{"o":"a"}"#) }
        #expect(throws: DecodingError.self) { try decode(S.self, #"{"s":null}"#) }
        #expect(throws: DecodingError.self) { try decode(S.self, #"{"s":1}"#) }
        #expect(throws: DecodingError.self) { try decode(S.self, #"["s"]"#) }
        #expect(throws: DecodingError.self) { try decode([Int].self, #"{"s":"a"}"#) }
    }

    @Test func badTextIsASyntaxError() {
        struct S: Decodable { var s: String }
        for text in [#"{"s":"a","s":"b"}"#, #"{"s":"a",}"#, "", #"{"s":"a"} x"#, "{'s':'a'}"] {
            #expect(throws: StrictJSON.SyntaxError.self, "\(text)") { try decode(S.self, text) }
        }
    }
}
