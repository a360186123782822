import Testing

@testable import MetroRuntime

/// The dead-letter headers the broker writes (protocol.md §4.10), read strictly.
@Suite struct DeadLetterHeadersTests {
    func decode(_ text: String) -> Result<DeadLetterHeaders, EventHeaders.HeadersError> {
        DeadLetterHeaders.decode(Array(text.utf8))
    }

    @Test func theBrokersHeadersAreRead() throws {
        let lost = try decode(
            #"{"deliveries":"2","group":"video-processing","reason":"member-lost","seq":"1048579","topic":"video.uploaded"}"#
        ).get()
        #expect(
            lost
                == DeadLetterHeaders(
                    group: "video-processing", reason: "member-lost", topic: "video.uploaded", seq: 1_048_579,
                    deliveries: 2, detail: nil))
        let rejected = try decode(
            #"{"deliveries":"1","detail":"","group":"g","reason":"rejected","seq":"7","topic":"t.x"}"#
        ).get()
        #expect(rejected.detail == "")
    }

    @Test func anythingElseIsRefusedWithTheReason() {
        let cases: [(String, String)] = [
            ("", "not a JSON object"),
            ("[]", "not a JSON object"),
            (#"{"group":"g","reason":"nak","topic":"t"}"#, "decimal seq or deliveries"),
            (#"{"deliveries":"0","group":"g","reason":"nak","seq":"1","topic":"t"}"#, "decimal seq or deliveries"),
            (#"{"deliveries":2,"group":"g","reason":"nak","seq":"1","topic":"t"}"#, "decimal seq or deliveries"),
            (#"{"deliveries":"2","group":"g","reason":"nak","seq":"-1","topic":"t"}"#, "decimal seq or deliveries"),
            (#"{"deliveries":"2","reason":"nak","seq":"1","topic":"t"}"#, "lack a string group"),
            (
                #"{"deliveries":"2","detail":5,"group":"g","reason":"nak","seq":"1","topic":"t"}"#,
                "detail is not a string"
            ),
        ]
        for (text, why) in cases {
            guard case .failure(let error) = decode(text) else {
                Issue.record("accepted: \(text)")
                continue
            }
            #expect(error.description.contains(why), "\(text): \(error)")
        }
        guard case .failure(let error) = DeadLetterHeaders.decode([0xFF]) else {
            Issue.record("accepted 0xFF")
            return
        }
        #expect(error.description.contains("UTF-8"))
    }

    @Test func theExplanationSaysWhatBecameOfTheLastDelivery() {
        func letter(_ reason: String, _ deliveries: Int, detail: String? = nil) -> DeadLetter<Int> {
            DeadLetter(
                payload: 0, topic: "t", seq: 1, eventID: [1], group: "g", reason: .init(reason),
                deliveries: deliveries, detail: detail, deadLetterSeq: 2)
        }
        #expect(
            letter("member-lost", 5).explanation
                == "given up after 5 deliveries: the worker handling the last was lost (killed or stopped during it)")
        #expect(
            letter("ack-timeout", 1).explanation
                == "given up after 1 delivery: the last was not finished within the group's ACK timeout")
        #expect(letter("nak", 3).explanation == "given up after 3 deliveries: the last failed (NAK)")
        #expect(
            letter("rejected", 1, detail: "unknown video").explanation == "rejected after 1 delivery: unknown video")
        #expect(letter("rejected", 1, detail: "").explanation == "rejected after 1 delivery")
        #expect(letter("expired", 2).reason == .other("expired"))
        #expect(letter("expired", 2).explanation == "given up after 2 deliveries (expired)")
    }
}
