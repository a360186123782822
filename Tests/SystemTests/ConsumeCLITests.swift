import Foundation
import MetroKit
import MetroProtocol
import MetroTestKit
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `metro consume` as an operator uses it: what it prints, and how it stops.
@Suite struct ConsumeCLITests {
    /// Heartbeats so slow that the broker would find a silent member lost only
    /// after 3 × 20 s: a member gone within the test's wait left with LEAVE.
    static let slowHeartbeats = "heartbeatIntervalMs: 20000\n"

    @Test func printsTopicAndPayloadAndADashForAFireAndForgetId() async throws {
        let broker = try await BrokerHarness()
        let cli = try MetroProcess([
            "consume", "--consume", broker.consume, "--group", "readers", "--prefix", "video.",
        ])
        defer { cli.kill() }
        try await cli.waitUntilReady()
        let publisher = try Publisher(.init(ingest: broker.ingest, publish: broker.publish))
        let seq = try await closing(publisher) {
            let seq = try await publisher.publish(
                topic: "video.uploaded", payload: bytes("{\"videoId\":\"v1\"}"), eventID: bytes("up-1"))
            try publisher.fireAndForget(topic: "video.watched", payload: bytes("{\"videoId\":\"v1\"}"))
            try await eventually("two deliveries") { cli.stdoutLines.count == 3 }
            return seq
        }
        #expect(cli.stdoutLines[1] == "\(seq) 1 up-1 video.uploaded {\"videoId\":\"v1\"}")
        let fired = cli.stdoutLines[2].split(separator: " ").map(String.init)
        #expect(Array(fired.dropFirst()) == ["1", "-", "video.watched", "{\"videoId\":\"v1\"}"], "\(fired)")
        #expect(await broker.stop() == 0)
    }

    @Test(arguments: [SIGTERM, SIGINT])
    func leavesTheGroupOnASignal(_ signal: Int32) async throws {
        let broker = try await BrokerHarness(config: Self.slowHeartbeats)
        let cli = try MetroProcess(["consume", "--consume", broker.consume, "--group", "g", "--prefix", "job."])
        defer { cli.kill() }
        try await cli.waitUntilReady()
        #expect(try await broker.stats().groups["g"]?.members == 1)
        cli.kill(signal)
        #expect(await cli.waitForExit(timeout: .seconds(10)) == 0)
        try await eventually("the member left", timeout: .seconds(10)) {
            try await broker.stats().groups["g"]?.members == 0
        }
        #expect(await broker.stop() == 0)
    }
}
