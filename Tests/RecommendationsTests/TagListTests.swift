import Foundation
import MetroTestKit
import Testing

@testable import Recommendations

/// Tag lists as stored (a JSON array of strings): the hand-read common form
/// agrees with JSONDecoder, and everything else still decodes.
@Suite struct TagListTests {
    @Test func whatEncodeWritesDecodesBack() {
        var random = MetroTestKit.SplitMix64(seed: 7)
        let alphabet: [String] = ["a", "z", "-", " ", "é", "ß", "日", "🎬", "\"", "\\", "/", "\n", "\u{01}", ","]
        for _ in 0..<2000 {
            let tags = (0..<Int(random.next() % 5)).map { _ in
                (0..<Int(random.next() % 8)).map { _ in alphabet[Int(random.next() % UInt64(alphabet.count))] }.joined()
            }
            #expect(TagList.decode(TagList.encode(tags)) == tags, "\(tags)")
        }
    }

    @Test func thePlainReaderTakesOnlyWhatItCanReadExactly() {
        for text in [#"[]"#, #"["jazz"]"#, #"["jazz","rock","live music"]"#, #"["日本","🎬"]"#, #"[""]"#] {
            let expected = try? JSONDecoder().decode([String].self, from: Data(text.utf8))
            #expect(TagList.decodePlain(text) == expected, "\(text)")
        }
        // Escapes, spaces between items, and malformed text are left to JSONDecoder.
        for text in [
            #"["a\"b"]"#, #"["a\u0041"]"#, #"["a", "b"]"#, #"[ "a"]"#, #"["a",]"#, #"["a""#, #"["a"]x"#, "", "[",
            #"[1]"#,
        ] {
            #expect(TagList.decodePlain(text) == nil, "\(text)")
        }
        #expect(TagList.decode(#"["a", "b"]"#) == ["a", "b"])
        #expect(TagList.decode(#"["a\u0041"]"#) == ["aA"])
        #expect(TagList.decode(#"["a"#) == [])
    }
}
