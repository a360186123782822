import Foundation
import MetroProtocol
import MetroTestSupport
import Testing

@Suite struct TopicTests {
    @Test(arguments: ["video.uploaded", "user-42.watched", "a", "A_b.c-d.0", String(repeating: "x", count: 255)])
    func acceptsValidTopics(_ topic: String) {
        #expect(Topic.validatePublishable(Array(topic.utf8)) == nil)
    }

    @Test(arguments: ["", ".a", "a.", "a..b", "a b", "vidéo", "a/b", "a\u{0}b", String(repeating: "x", count: 256)])
    func rejectsInvalidTopics(_ topic: String) {
        let error = Topic.validatePublishable(Array(topic.utf8))
        #expect(error?.code == .invalidTopic)
        #expect(error?.message.isEmpty == false)
    }

    @Test func reservedTopicsAreValidButNotPublishable() {
        #expect(Topic.validate(Array(Topic.heartbeat.utf8)) == nil)
        #expect(Topic.validatePublishable(Array(Topic.heartbeat.utf8))?.code == .invalidTopic)
        #expect(Topic.validate(Array("a$b".utf8))?.code == .invalidTopic)
        #expect(Topic.validatePublishable(Array("$metro.hello.x".utf8))?.code == .invalidTopic)
    }

    @Test func registryEventsArePublishableThroughTheBroker() {
        #expect(Topic.validatePublishable(Array("$registry.registered".utf8)) == nil)
        #expect(Topic.validatePublishable(Array("$registryx".utf8))?.code == .invalidTopic)
    }

    @Test func garbageBytesAreRejected() {
        #expect(Topic.validate([0xff, 0xfe, 0x00])?.code == .invalidTopic)
    }
}

@Suite struct WireErrorCodeTests {
    @Test func codesRoundTripAsThreeDigits() {
        for code in WireErrorCode.allCases {
            #expect(code.frame.count == 3)
            #expect(WireErrorCode(frame: code.frame) == code)
        }
    }

    @Test func namesAreUnique() {
        let names = WireErrorCode.allCases.map(\.name)
        #expect(Set(names).count == names.count)
    }

    @Test func rejectsGarbage() {
        #expect(WireErrorCode(frame: Array("999".utf8)) == nil)
        #expect(WireErrorCode(frame: [0xff, 0xfe, 0xfd]) == nil)
        #expect(WireErrorCode(frame: Array("1000".utf8)) == nil)
    }

    /// protocol.md §3.2 lists every code with its name; the table and the enum agree.
    @Test func catalogueMatchesTheProtocolDocument() throws {
        let doc = try String(contentsOf: ProtocolVectors.documentURL, encoding: .utf8)
        for code in WireErrorCode.allCases {
            #expect(doc.contains("| \(code.rawValue) | \(code.name) |"), "protocol.md §3.2 lacks \(code)")
        }
    }

    /// The broker's one-pass fast path accepts exactly the valid topics that do not
    /// start with '$' (edge cases, then random strings over the interesting bytes).
    @Test func fastPathAgreesWithTheGrammar() {
        func agree(_ bytes: [UInt8]) {
            let fast = bytes.withUnsafeBytes { Topic.isPlainWellFormed($0) }
            let full = Topic.validate(bytes) == nil && bytes.first != Topic.reservedPrefix
            #expect(fast == full, "\(bytes)")
            let publishable = Topic.validatePublishable(bytes) == nil
            let expected =
                Topic.validate(bytes) == nil
                && (bytes.first != Topic.reservedPrefix || bytes.starts(with: Array(Topic.registryPrefix.utf8)))
            #expect(publishable == expected, "\(bytes)")
        }
        for text in [
            "", ".", "a", "a.", ".a", "a..b", "a.b", "A-z_0.9", "$x", "$registry.up", "$metro.heartbeat", "a b",
        ] {
            agree(Array(text.utf8))
        }
        agree([UInt8](repeating: 97, count: 255))
        agree([UInt8](repeating: 97, count: 256))
        let alphabet = Array("aZ9_-.$ \u{7f}".utf8) + [0, 0xC3, 0xA9]
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<5000 {
            let n = Int.random(in: 0...6, using: &rng)
            agree((0..<n).map { _ in alphabet.randomElement(using: &rng)! })
        }
    }
}
