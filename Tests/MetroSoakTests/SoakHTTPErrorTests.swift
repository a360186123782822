import Foundation
import Testing

@testable import MetroSoak

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A request with no HTTP answer is recorded in words, the same for every URL,
/// so that the report's Failures section folds them into one row.
@Suite struct SoakHTTPErrorTests {
    @Test func aRefusedConnectionIsSaidPlainly() async throws {
        // Port 1 on loopback: nothing listens there, the connect is refused at once.
        let http = SoakHTTP()
        defer { http.close() }
        do {
            _ = try await http.get("127.0.0.1:1", "/v1/users/a/recommendations", timeout: .seconds(5))
            Issue.record("a GET to a closed port answered")
        } catch let error as URLError {
            let text = "\(SoakHTTPTransport(error))"
            #expect(text.hasPrefix("HTTP transport: cannot connect to the gateway (URLError"), "\(text)")
            #expect(!text.contains("127.0.0.1"))
        }
    }

    @Test func otherCodesStillNameTheirNumber() {
        #expect("\(SoakHTTPTransport(URLError(.networkConnectionLost)))".contains("closed the connection"))
        #expect("\(SoakHTTPTransport(URLError(.unknown)))" == "HTTP transport: no HTTP answer (URLError -1)")
    }

    /// A refusal reads as a sentence: the problem's kind and detail, then the
    /// request id to grep the logs for; a body that is not a problem stays as is.
    @Test func aProblemAnswerIsSaidInWords() {
        let body = Data(
            #"{"detail":"'recommendations' is at its concurrency limit; retry later","instance":"\/v1\/users\/u-1\/recommendations","requestId":"c18681f8-7a3b-4d41-b2d5-41db1547a211","retryAfterSeconds":1,"status":429,"title":"Too many requests","type":"urn:metro:problem:overloaded"}"#
                .utf8)
        #expect(
            "\(SoakHTTPStatus(status: 429, body: body))"
                == "HTTP 429 (overloaded): 'recommendations' is at its concurrency limit; retry later "
                + "[request c18681f8-7a3b-4d41-b2d5-41db1547a211]")
        #expect(
            "\(SoakHTTPStatus(status: 502, body: Data("<html>bad gateway</html>".utf8)))"
                == "HTTP 502: <html>bad gateway</html>")
        let named = Data(#"{"detail":"no-instance: no instance is left","type":"urn:metro:problem:no-instance"}"#.utf8)
        #expect("\(SoakHTTPStatus(status: 503, body: named))" == "HTTP 503: no-instance: no instance is left")
        let op = SoakOperation(
            kind: .recommend, startNs: 0, endNs: 1, outcome: .failed,
            error: "\(SoakHTTPStatus(status: 429, body: body))", via: "http")
        #expect(
            FailureGroup.cause(of: op)
                == "HTTP 429 (overloaded): 'recommendations' is at its concurrency limit; retry later [request <id>]")
    }

    /// An upload that may have committed before its connection went is
    /// indeterminate; one that never connected surely did not happen. A
    /// publish-pending answer names the video it stored, which the checker then
    /// holds to at most one outcome.
    @Test func uploadOutcomesSayWhatMayHaveHappened() {
        #expect(SoakHTTPTransport(URLError(.networkConnectionLost), mayHaveHappened: true).mayHaveHappened)
        #expect(!SoakHTTPTransport(URLError(.cannotConnectToHost)).mayHaveHappened)
        let message =
            "video 0b6d3c5e-1d7a-4a55-9a3e-8f1c2d3e4f50 is stored, but the broker did not acknowledge its "
            + "video.uploaded event in time"
        #expect(SoakOperations.storedVideoID(in: message) == "0b6d3c5e-1d7a-4a55-9a3e-8f1c2d3e4f50")
        #expect(SoakOperations.storedVideoID(in: "video.upload: the disk is full") == nil)
    }
}
