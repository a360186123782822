import Foundation
import MetroKit
import MetroProtocol
import MetroTestKit
import Testing

/// `Publisher.publish(batch:)` against a real `metro broker` (issue 14).
@Suite struct PublisherBatchTests {
    @Test func aBatchIsJournaledInOrderWithAnOutcomePerEvent() async throws {
        let broker = try await BrokerHarness(config: "journal:\n  fsync: never\n")
        let publisher = try Publisher(.init(ingest: broker.ingest))
        try await closing(publisher) {
            // More than the window (256): the rest go as ACKs free it, still in order.
            let forged = 150
            let events = (0..<300).map { i in
                Publisher.Event(
                    topic: i == forged ? "$forged.topic" : "batch.test", payload: [UInt8(i % 256)],
                    eventID: Array("b-\(i)".utf8))
            }
            let results = try await publisher.publish(batch: events)
            #expect(results.count == events.count)
            let seqs = results.enumerated().compactMap { i, r in i == forged ? nil : try? r.get() }
            #expect(seqs.count == events.count - 1)
            #expect(zip(seqs, seqs.dropFirst()).allSatisfy { $0 < $1 }, "seqs follow the batch's order")
            #expect(throws: MetroClientError.self) { try results[forged].get() }
            // The same batch again: the dedupe window answers with the first seqs.
            let again = try await publisher.publish(batch: events)
            #expect(again.enumerated().compactMap { i, r in i == forged ? nil : try? r.get() } == seqs)
            #expect(try await publisher.publish(batch: []).isEmpty)
            await #expect(throws: MetroClientError.self) {
                try await publisher.publish(batch: [Publisher.Event(topic: "a.b", payload: [], eventID: [])])
            }
        }
    }
}
