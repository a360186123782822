public import Foundation
public import GRDB
import MetroProtocol

/// One write transaction of a service: `db` for its own tables, `publish` for the
/// events it emits. Both commit together or not at all: a published event is an
/// outbox row, sent by the relay only after the commit (the module overview in MetroRuntime.swift; docs/operations.md, "Service workers").
///
/// Threading: only inside the `write`/`commit` closure, on GRDB's writer queue.
public final class ServiceTransaction {
    public let db: Database
    /// Copied into the headers of every event this transaction publishes.
    public let correlation: EventHeaders
    /// Outbox rows inserted so far (the runtime wakes the relay after the commit).
    private(set) var published = 0

    init(db: Database, correlation: EventHeaders) {
        self.db = db
        self.correlation = correlation
    }

    /// Inserts `event` (JSON, WireJSON's encoder) into the outbox, to be published on
    /// `topic` once this transaction commits. Returns the event id it will carry (a
    /// UUID made here). `schema` is the event's `"<major>.<minor>"` (docs/events.md).
    @discardableResult
    public func publish(topic: String, event: some Encodable, schema: String = "1.0") throws -> String {
        if let problem = Topic.validatePublishable(Array(topic.utf8)) {
            throw OutboxError(description: "cannot publish on \"\(topic)\": \(problem.message)")
        }
        var headers = correlation
        headers.schema = schema
        let id = RandomUUID.string(uppercase: true)
        try db.cachedStatement(
            sql: """
                INSERT INTO metro_outbox (event_id, topic, headers, payload, created_at)
                VALUES (?, ?, ?, ?, ?)
                """
        ).execute(
            arguments: [
                id, topic, Data(headers.encoded), Data(WireJSON.encode(event)), Date().timeIntervalSince1970,
            ])
        published += 1
        return id
    }
}

/// A publish refused before it reached the outbox (a bad topic).
public struct OutboxError: Error, Sendable, CustomStringConvertible {
    public let description: String
}
