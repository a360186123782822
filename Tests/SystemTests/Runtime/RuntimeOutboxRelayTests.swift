import Foundation
import GRDB
import MetroKit
import MetroProtocol
import MetroTestKit
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The outbox relay with real processes (issue 14): a pass sends its unsent rows
/// as one batch, all in flight at once and in outbox order, not one broker round
/// trip per row.
@Suite(.serialized) struct RuntimeOutboxRelayTests {
    /// Unsent rows as a crash would leave them (topic `relay.order`, which no group
    /// of the echo service takes), in outbox order.
    static let rows = 200

    @Test func aPassSendsItsRowsAsOneOrderedBatch() async throws {
        // No membership events: the test counts every event the broker accepts.
        let stack = try await ServiceStack(membershipEvents: false)
        let relayed = try await stack.collect(["relay."])
        let worker = try await stack.start(EchoKind.self)[0]
        let broker = stack.broker
        try await closing(stack) {
            // The first run migrated the database; stop it and leave rows unsent.
            worker.process.kill(SIGTERM)
            #expect(await worker.exit() == 0)
            let ids = (0..<Self.rows).map { String(format: "row-%04d", $0) }
            try worker.write { db in
                for id in ids {
                    try db.execute(
                        sql: """
                            INSERT INTO metro_outbox (event_id, topic, headers, payload, created_at)
                            VALUES (?, 'relay.order', ?, ?, 0)
                            """,
                        arguments: [id, Data(#"{"schema":"1.0"}"#.utf8), Data(#"{"id":"\#(id)"}"#.utf8)])
                }
            }
            #expect(try worker.unsentOutbox() == Self.rows)
            let before = try await broker.stats()

            // The new process's relay finds the rows at start.
            try await stack.restart(worker)
            try await eventually("every row marked sent") { try worker.unsentOutbox() == 0 }
            try await eventually("every row relayed") { relayed.events.count >= Self.rows }
            let after = try await broker.stats()

            // In outbox order on the wire: the broker gave them increasing seqs in that order.
            let events = relayed.events
            #expect(events.map { String(decoding: $0.eventID, as: UTF8.self) } == ids)
            #expect(zip(events, events.dropFirst()).allSatisfy { $0.seq < $1.seq })
            #expect(after.accepted - before.accepted == UInt64(Self.rows), "each row journaled once")
            // All in flight at once: packed requests of up to 64 events (4 for 200 rows),
            // not one request (and one journal sync) per row. Before issue 14: 200.
            let requests = after.received - before.received
            #expect(requests <= 20, "\(requests) ingest requests for \(Self.rows) rows")
            worker.process.kill(SIGTERM)
            #expect(await worker.exit() == 0)
        }
    }
}
