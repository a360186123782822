import Foundation
import MetroKit
import MetroProtocol
import MetroTestKit
import Testing

/// `disconnects.consume` counts peers lost to the consume socket (members,
/// replays); an operator's STATS or METRICS call that connects, asks and closes
/// is not one (issue 16 §0: every `metro broker stats` used to add one).
@Suite struct BrokerAdminDisconnectTests {
    @Test func statsAndMetricsCallsAreNotDisconnections() async throws {
        let broker = try await BrokerHarness()
        for _ in 0..<10 {
            _ = try await broker.stats()
            _ = try await request(on: broker.consume, ConsumeCodec.requestFrames(.metrics))
        }
        let cli = try MetroProcess(["broker", "stats", "--consume", broker.consume])
        #expect(await cli.waitForExit() == 0)
        // Then a connection that asks for a replay and closes: it is counted. Its
        // close comes after every close above (each call had closed before the
        // next began), so once the broker has seen it, it has seen those too:
        // exactly one counts.
        let replay = ReplayCodec.Request(id: bytes("r"), start: .seq(0), credit: 10)
        _ = try await request(on: broker.consume, replay.frames)  // CAUGHT-UP: the journal is empty
        try await eventually("the replay connection's close is counted") {
            try await broker.stats().disconnects["consume", default: 0] >= 1
        }
        let counted = try await broker.stats().disconnects["consume"]
        #expect(counted == 1, "\(String(describing: counted))")
        #expect(await broker.stop() == 0)
    }
}
