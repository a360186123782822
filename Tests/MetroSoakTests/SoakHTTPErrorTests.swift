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
}
