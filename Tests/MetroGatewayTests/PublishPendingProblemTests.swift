import HTTPTypes
import Testing

@testable import MetroGateway

/// The stored video named in an upload's 503 `publish-pending` (`Gateway.naming`).
struct PublishPendingProblemTests {
    static func pending(_ detail: String) -> Problem {
        Problem(.serviceUnavailable, "publish-pending", title: "Not published", detail: detail, service: "video")
    }

    @Test func theVideoServicesMessageNamesTheStoredVideo() {
        let id = "3f0c9a52-1d7e-4c55-9a38-64a1d1a2f0aa"
        let named = Gateway.naming(Self.pending("video \(id) is stored, but the broker did not acknowledge"))
        #expect(named.videoId == id)
        #expect(named.statusUrl == "/v1/videos/\(id)")
    }

    @Test func anotherMessageLeavesTheProblemAsItIs() {
        for detail in ["", "video", "video x/y is stored, but", "the broker refuses", "video \u{0} is stored"] {
            #expect(Gateway.naming(Self.pending(detail)) == Self.pending(detail), "\(detail)")
        }
    }
}
