import Foundation
public import GRDB
import MetroKit
import MetroProtocol

/// What a service author writes: a name, migrations for its tables, rpc methods and
/// event handlers. `ServiceRuntime` does everything else.
///
/// ```swift
/// var echo = ServiceDefinition(name: "echo")
/// echo.migrations { m in
///     m.registerMigration("v1") { db in try db.execute(sql: "CREATE TABLE said (id TEXT PRIMARY KEY, text TEXT)") }
/// }
/// echo.on(group: "echo", topics: ["echo."], as: Said.self) { event, context in
///     try await context.commit { tx in
///         try tx.db.execute(sql: "INSERT INTO said VALUES (?, ?)", arguments: [event.id, event.payload.text])
///         try tx.publish(topic: "echo.recorded", event: Recorded(id: event.id))
///     }
/// }
/// ```
public struct ServiceDefinition: Sendable {
    /// The service name (registry rules, protocol.md §5.2); also the database's name.
    public let name: String
    var registerMigrations: @Sendable (inout DatabaseMigrator) -> Void = { _ in }
    var eventHandlers: [EventHandlerRegistration] = []
    var rpcMethods: [RpcRegistration] = []
    var housekeeping: [HousekeepingRegistration] = []

    public init(name: String) {
        self.name = name
    }

    /// The service's migrations; they run after the runtime's own (`metro_inbox`,
    /// `metro_outbox`). Register them in order; GRDB runs each once per database.
    public mutating func migrations(_ register: @escaping @Sendable (inout DatabaseMigrator) -> Void) {
        let previous = registerMigrations
        registerMigrations = { m in
            previous(&m)
            register(&m)
        }
    }

    /// Handles events whose topic starts with one of `topics`, as a member of the
    /// consumer group `group` (one delivery per event per group), at most
    /// `concurrency` at once per instance.
    ///
    /// The payload decodes strictly as `E` (JSON); an event that does not, or whose
    /// `schema` header has another major than `schema`, is dead-lettered with the
    /// reason, and so is one whose handler throws `EventRejection`. Other errors NAK
    /// it with backoff (the broker dead-letters it after its maximum deliveries).
    /// The delivery is ACKed only after the handler returned and its `commit`
    /// (or the inbox-only commit made for it) is durable.
    public mutating func on<E: Decodable & Sendable>(
        group: String, topics: [String], as: E.Type, schema: Int = 1, concurrency: Int = 8,
        _ handler: @escaping @Sendable (IncomingEvent<E>, EventContext) async throws -> Void
    ) {
        precondition(concurrency >= 1, "an event handler runs at least one event at a time")
        precondition(!topics.isEmpty, "an event handler needs at least one topic prefix")
        eventHandlers.append(
            EventHandlerRegistration(
                group: group, topics: topics, concurrency: concurrency, schemaMajor: schema,
                handle: { delivery, headers, context in
                    let payload = try StrictEventDecoder.decode(E.self, from: delivery.event.payload)
                    let event = IncomingEvent(
                        payload: payload, topic: delivery.event.topic, eventID: delivery.event.eventID,
                        seq: delivery.seq, attempt: delivery.attempt, maxDeliveries: delivery.maxDeliveries,
                        headers: headers,
                        time: Date(timeIntervalSince1970: Double(delivery.event.time) / 1e9))
                    try await handler(event, context)
                }))
    }
}
