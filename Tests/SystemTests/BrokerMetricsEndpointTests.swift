import Foundation
import MetroKit
import MetroProtocol
import MetroTestKit
import Testing

/// `metro broker`'s `/metrics` (issue 13 §4): the broker's counters through
/// swift-metrics and swift-prometheus, served without a request to its own
/// consume socket.
@Suite(.serialized) struct BrokerMetricsEndpointTests {
    /// The value of the sample `series` (`name` or `name{labels}`) in a scrape, or nil.
    private func sample(_ series: String, in response: String) -> Double? {
        for line in response.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }

    private func scrape(_ broker: BrokerHarness) async throws -> String {
        let response = try await httpGet(broker.endpoints["metrics"]!, path: "/metrics")
        #expect(response.contains(" 200 OK\r\n"), "\(response.prefix(200))")
        return response
    }

    /// Published events show in the scrape (within the loop's publish period),
    /// under the names and labels of protocol.md §4.5, and a group's series appear
    /// once it exists.
    @Test func countersMoveWithTraffic() async throws {
        let broker = try await BrokerHarness()
        let first = try await scrape(broker)
        #expect(sample("metro_broker_accepted_total", in: first) == 0)
        #expect(sample("metro_broker_dropped_total{cause=\"publish_malformed\"}", in: first) == 0)
        #expect(sample("metro_broker_disconnects_total{socket=\"ingest\"}", in: first) == 0)
        #expect(sample("metro_broker_head_seq", in: first) != nil)

        // The test counts requests: a retry after a late ACK (the suites run in
        // parallel on a loaded machine) would add one, so none may fire.
        var options = Publisher.Options(ingest: broker.ingest)
        options.ackTimeout = .seconds(30)
        let publisher = try Publisher(options)
        try await closing(publisher) {
            var last: UInt64 = 0
            for i in 0..<5 {
                last = try await publisher.publish(
                    topic: "video.uploaded", payload: bytes("v"), eventID: bytes("m-\(i)"))
            }
            let consumer = try MetroProcess([
                "consume", "--consume", broker.consume, "--group", "scraped", "--prefix", "video.", "--count", "5",
            ])
            #expect(await consumer.waitForExit() == 0)

            var text = ""
            try await waitFor("the scrape shows the five events", timeout: .seconds(10), interval: .milliseconds(100)) {
                text = try await scrape(broker)
                return sample("metro_broker_accepted_total", in: text) == 5
                    && sample("metro_group_lag{group=\"scraped\"}", in: text) == 0
            }
            #expect(sample("metro_broker_acked_total", in: text) == 5)
            #expect(sample("metro_broker_received_total", in: text) == 5)
            #expect(sample("metro_broker_head_seq", in: text) == Double(last))
            #expect(text.contains("# TYPE metro_broker_accepted_total counter\n"))
            #expect(text.contains("# TYPE metro_group_lag gauge\n"))
            #expect(sample("metro_group_members{group=\"scraped\"}", in: text) != nil)
            #expect(sample("metro_group_redelivered_total{group=\"scraped\"}", in: text) == 0)
            // The METRICS reply on the consume socket (the wire contract) says the same.
            let reply = try BrokerAdminClient(consumeEndpoint: broker.consume).metrics()
            #expect(sample("metro_broker_accepted_total", in: reply) == 5)
            #expect(await broker.stop() == 0)
        }
    }

    /// A scrape makes no connection to the broker's consume socket: its monitor
    /// counts every peer that leaves it (`disconnects.consume`), and scraping
    /// used to add one per scrape (a DEALER per METRICS request).
    @Test func aScrapeDoesNotTouchTheConsumeSocket() async throws {
        let broker = try await BrokerHarness()
        let admin = BrokerAdminClient(consumeEndpoint: broker.consume)
        let before = try admin.stats().disconnects["consume"] ?? 0
        let scrapes = 10
        for _ in 0..<scrapes { _ = try await scrape(broker) }
        // This STATS's own connection has not left yet when it is answered; the
        // one before it may or may not have been seen leaving: at most 1 more.
        let after = try admin.stats().disconnects["consume"] ?? 0
        #expect(after - before <= 1, "\(after - before) consume connections came and went during \(scrapes) scrapes")
        #expect(await broker.stop() == 0)
    }
}
