import Foundation
import Testing

@testable import MetroRuntime

/// The pure parts of the runtime: event headers, the schema major, strict payload
/// decoding and the NAK backoff.
@Suite struct EventHeadersTests {
    @Test func headersDecodeStrictly() throws {
        #expect(try EventHeaders.decode([]).get() == EventHeaders())
        #expect(try EventHeaders.decode(Array("{}".utf8)).get().schema == "1.0")
        let h = try EventHeaders.decode(Array(#"{"schema":"2.3","requestId":"r-1","x":[1]}"#.utf8)).get()
        #expect(h == EventHeaders(schema: "2.3", requestId: "r-1"))
        for bad in [#"[]"#, #"{"schema":2}"#, #"{"schema":"1.0","schema":"2.0"}"#, "{", "\u{FF}"] {
            #expect(throws: EventHeaders.HeadersError.self, "\(bad)") { try EventHeaders.decode(Array(bad.utf8)).get() }
        }
    }

    @Test func schemaMajor() {
        #expect(EventHeaders(schema: "1.0").schemaMajor == 1)
        #expect(EventHeaders(schema: "12.7").schemaMajor == 12)
        for bad in ["1", "1.", ".1", "a.b", "1.0.0", "-1.0", "+1.0", ""] {
            #expect(EventHeaders(schema: bad).schemaMajor == nil, "\(bad)")
        }
    }

    @Test func headersEncodeWithSortedKeysAndNoAbsentMembers() {
        let h = EventHeaders(schema: "1.2", requestId: "r", traceparent: nil)
        #expect(String(decoding: h.encoded, as: UTF8.self) == #"{"requestId":"r","schema":"1.2"}"#)
    }

    struct Said: Decodable, Equatable {
        var text: String
        var count: Int?
    }

    @Test func payloadsDecodeStrictly() throws {
        #expect(try StrictEventDecoder.decode(Said.self, from: Array(#"{"text":"hi"}"#.utf8)) == Said(text: "hi"))
        let cases: [(String, String)] = [
            (#"{"text":"a","text":"b"}"#, "payload is not JSON"),  // duplicate key: Foundation keeps the last
            (#"{"text":"a",}"#, "payload is not JSON"),
            (#"{"txt":"a"}"#, "missing text"),
            (#"{"text":1}"#, "text:"),
            (#"{"text":"a","count":1.0}"#, "count:"),  // a JSON integer only, as rpc bodies (§5.2)
        ]
        for (payload, reason) in cases {
            do {
                _ = try StrictEventDecoder.decode(Said.self, from: Array(payload.utf8))
                Issue.record("\(payload) decoded")
            } catch {
                #expect(error.reason.contains(reason), "\(payload): \(error.reason)")
            }
        }
    }

    @Test func nakBackoffDoublesUpToThirtySeconds() {
        #expect(DeliveryProcessor.backoff(attempt: 1) == .milliseconds(100))
        #expect(DeliveryProcessor.backoff(attempt: 2) == .milliseconds(200))
        #expect(DeliveryProcessor.backoff(attempt: 5) == .milliseconds(1600))
        #expect(DeliveryProcessor.backoff(attempt: 100) == .seconds(30))
    }
}
