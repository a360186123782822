import Logging
import MetroProtocol
import Testing

@testable import MetroKit

/// The `request-id` a handler's log lines carry (`RpcContext.logger`).
struct RpcContextTests {
    static func loggedID(_ requestID: [UInt8], headers: RpcHeaders = .init()) -> String? {
        let context = RpcContext(
            method: "profile.get", requestID: requestID, headers: headers, deadline: .now,
            logger: Logger(label: "test"))
        return context.logger[metadataKey: "request-id"].map { "\($0)" }
    }

    @Test func theCorrelationIdWinsOverTheFrameId() {
        #expect(Self.loggedID([0, 0, 0, 1], headers: RpcHeaders(requestID: "req-7")) == "req-7")
    }

    @Test func aPrintableFrameIdIsLoggedAsText() {
        #expect(Self.loggedID(Array("r-1".utf8)) == "r-1")
    }

    @Test func aBinaryFrameIdIsLoggedInHexNeverRaw() {
        // MetroKit's own ids: 8 bytes of a counter (they once reached the log as NULs).
        #expect(Self.loggedID([0, 0, 0, 0, 0, 0, 0, 2]) == "0000000000000002")
        #expect(Self.loggedID([0xFF, 0x0A, 0x41]) == "ff0a41", "one unprintable byte makes it hex")
        #expect(Self.loggedID(Array("a b".utf8)) == "612062", "a space too")
    }
}
