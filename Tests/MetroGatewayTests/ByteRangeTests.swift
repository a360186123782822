import Testing

@testable import MetroGateway

/// `Range: bytes=…` as the media routes read it (RFC 9110 §14.1.2), and
/// `If-None-Match` against the blob ETag.
@Suite struct ByteRangeTests {
    @Test func oneRangeInEachFormIsRead() {
        #expect(ByteRange.parse("bytes=0-99") == .from(first: 0, last: 99))
        #expect(ByteRange.parse("bytes=100-") == .from(first: 100, last: nil))
        #expect(ByteRange.parse("bytes=-500") == .suffix(500))
        #expect(ByteRange.parse("bytes= 5-6 ") == .from(first: 5, last: 6))
    }

    /// What the routes do not take is ignored (the whole body, 200), never an error.
    @Test func whatIsNotOneByteRangeIsIgnored() {
        for header in [
            nil, "", "bytes", "bytes=", "bytes=-", "items=0-1", "bytes=0-1,5-6", "bytes=5-4", "bytes=a-b",
            "bytes=1-2-3", "bytes=+1-2", "bytes=9999999999999999999-", "bytes=0x10-",
        ] {
            #expect(ByteRange.parse(header) == nil, "\(header ?? "nil")")
        }
    }

    @Test func aRangeIsResolvedAgainstTheSize() {
        #expect(ByteRange.from(first: 0, last: 99).resolve(total: 1000) == 0...99)
        #expect(ByteRange.from(first: 900, last: 5000).resolve(total: 1000) == 900...999, "clamped to the end")
        #expect(ByteRange.from(first: 10, last: nil).resolve(total: 1000) == 10...999)
        #expect(ByteRange.suffix(100).resolve(total: 1000) == 900...999)
        #expect(ByteRange.suffix(5000).resolve(total: 1000) == 0...999)
        // Nothing selected: 416.
        #expect(ByteRange.from(first: 1000, last: nil).resolve(total: 1000) == nil)
        #expect(ByteRange.suffix(0).resolve(total: 1000) == nil)
        #expect(ByteRange.suffix(10).resolve(total: 0) == nil)
    }

    @Test func ifNoneMatchTakesTheTagAListOrAStar() {
        let etag = "\"abc\""
        #expect(Gateway.matches("\"abc\"", etag))
        #expect(Gateway.matches("\"x\", \"abc\"", etag))
        #expect(Gateway.matches("W/\"abc\"", etag))
        #expect(Gateway.matches("*", etag))
        #expect(!Gateway.matches("\"abd\"", etag))
        #expect(!Gateway.matches("abc", etag))
    }
}
