import Foundation
import MetroProtocol
import Testing

/// `RandomUUID`: the text form of a version-4 UUID, as Foundation reads it, and random.
@Suite struct RandomUUIDTests {
    @Test func theTextIsAVersion4UUIDFoundationParses() throws {
        for uppercase in [false, true] {
            for _ in 0..<1000 {
                let text = RandomUUID.string(uppercase: uppercase)
                #expect(text.count == 36)
                let bytes = Array(text.utf8)
                for (i, b) in bytes.enumerated() {
                    if [8, 13, 18, 23].contains(i) {
                        #expect(b == UInt8(ascii: "-"))
                    } else {
                        let digits = uppercase ? "0123456789ABCDEF" : "0123456789abcdef"
                        #expect(digits.utf8.contains(b), "\(text)")
                    }
                }
                #expect(bytes[14] == UInt8(ascii: "4"), "version 4: \(text)")
                #expect("89abAB".utf8.contains(bytes[19]), "variant 10xx: \(text)")
                let parsed = try #require(UUID(uuidString: text))
                #expect(parsed.uuidString.lowercased() == text.lowercased())
            }
        }
    }

    /// 20,000 distinct, and every hex digit at every random position.
    @Test func theIDsAreRandom() {
        let ids = (0..<20000).map { _ in RandomUUID.string() }
        #expect(Set(ids).count == ids.count)
        for position in 0..<36 where ![8, 13, 14, 18, 19, 23].contains(position) {
            let seen = Set(ids.map { Array($0.utf8)[position] })
            #expect(seen.count == 16, "position \(position) took \(seen.count) of 16 digits")
        }
    }
}
