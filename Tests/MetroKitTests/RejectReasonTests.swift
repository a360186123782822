import MetroProtocol
import Testing

@testable import MetroKit

/// `Consumer.reject` cuts an over-long reason to fit REJECT's 256 bytes
/// (protocol.md §4.10) at a character boundary, so the broker never refuses it.
@Suite struct RejectReasonTests {
    @Test func aReasonThatFitsIsSentAsItIs() {
        #expect(Consumer.fit("") == "")
        #expect(Consumer.fit("payload is not JSON") == "payload is not JSON")
        let exact = String(repeating: "x", count: GroupCodec.maxReasonBytes)
        #expect(Consumer.fit(exact) == exact)
    }

    @Test func aLongerReasonIsCutAtACharacterBoundary() {
        #expect(Consumer.fit(String(repeating: "x", count: 1000)) == String(repeating: "x", count: 256))
        // "é" is 2 bytes: 255 ASCII + "é" would be 257, so the "é" goes whole.
        let straddling = String(repeating: "x", count: 255) + "é" + "tail"
        #expect(Consumer.fit(straddling) == String(repeating: "x", count: 255))
        // "👩‍💻" is one character of 11 bytes: never split into its scalars.
        let emoji = String(repeating: "👩‍💻", count: 30)  // 330 bytes
        let cut = Consumer.fit(emoji)
        #expect(cut == String(repeating: "👩‍💻", count: 23) && cut.utf8.count == 253)
    }

    @Test func whatItSendsTheBrokerAccepts() throws {
        for reason in [String(repeating: "é", count: 200), String(repeating: "👩‍💻", count: 30), "ok"] {
            let frames = GroupCodec.Request.reject(group: "g", seq: 1, reason: Consumer.fit(reason)).frames
            #expect(throws: Never.self) { try ConsumeCodec.decodeRequest(frames, offset: 0).get() }
        }
    }
}
