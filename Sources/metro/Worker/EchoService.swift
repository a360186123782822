import ArgumentParser
import Foundation
import GRDB
import MetroKit
import MetroRuntime

/// `metro worker echo`: the service runtime's own smoke service, tiny on purpose.
/// It exercises every part of the runtime with real processes (its system tests
/// use it), and on a `metro up` machine it is a sanity check:
///
///     metro worker echo --data /tmp/metro-data &
///     # publish {"text":"hi"} on echo.hello (any Metro publisher): one row in
///     # echo_events, one echo.recorded event on the broker
///
/// - event handler, group `echo`, topics `echo.`: payload `{"text": String,
///   "delayMs": Int?}` (schema 1.x). It records the event in `echo_events` and
///   publishes `echo.recorded` through the outbox, in one transaction with the
///   inbox row; `delayMs` makes the handler wait first (to have work in flight).
///   `event_id` is deliberately not unique in `echo_events`: only the runtime's
///   inbox keeps a redelivered event from being recorded twice, which is what
///   the system tests check.
///   Its own `echo.recorded` events reach it too (same prefix): they are ACKed
///   without an effect.
/// - rpc `echo.say` (idempotent): `{"text": String, "delayMs": Int?}` →
///   `{"text": String, "instance": String}`.
/// - the database: `<data>/echo/echo.sqlite`.
enum EchoService {
    struct Said: Codable, Sendable {
        var text: String
        var delayMs: Int?
    }

    /// The payload of `echo.recorded`.
    struct Recorded: Codable, Sendable {
        var eventId: String
        var topic: String
        var text: String
        var instance: String
    }

    static let recordedTopic = "echo.recorded"

    struct Say: Codable, Sendable {
        var text: String
        var delayMs: Int?
    }

    struct Answer: Codable, Sendable {
        var text: String
        var instance: String
    }

    /// `echo.say`: answers the text with the instance's id, after `delayMs` if given.
    static let say = RpcMethod<Say, Answer>("echo.say", idempotent: true)

    static func definition(instance: String) -> ServiceDefinition {
        var echo = ServiceDefinition(name: "echo")
        echo.migrations { m in
            m.registerMigration("echo-1") { db in
                try db.execute(
                    sql: """
                        CREATE TABLE echo_events (
                            id INTEGER PRIMARY KEY AUTOINCREMENT,
                            event_id TEXT NOT NULL,
                            topic TEXT NOT NULL,
                            text TEXT NOT NULL,
                            attempt INTEGER NOT NULL,
                            instance TEXT NOT NULL,
                            recorded_at REAL NOT NULL
                        )
                        """)
            }
        }
        echo.rpc(say) { request, context, _ in
            if let ms = request.delayMs, ms > 0 { try await Task.sleep(for: .milliseconds(ms)) }
            return Answer(text: request.text, instance: instance)
        }
        echo.on(group: "echo", topics: ["echo."], as: Said.self) { event, context in
            guard event.topic != recordedTopic else { return }
            if let ms = event.payload.delayMs, ms > 0 { try await Task.sleep(for: .milliseconds(ms)) }
            let recorded = Recorded(eventId: event.id, topic: event.topic, text: event.payload.text, instance: instance)
            try await context.commit { tx in
                try tx.db.execute(
                    sql: """
                        INSERT INTO echo_events (event_id, topic, text, attempt, instance, recorded_at)
                        VALUES (?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        recorded.eventId, recorded.topic, recorded.text, Int(event.attempt), instance,
                        Date().timeIntervalSince1970,
                    ])
                try tx.publish(topic: recordedTopic, event: recorded)
            }
        }
        return echo
    }
}

/// `metro worker echo`.
struct WorkerEchoCommand: MetroCommand {
    static let configuration = CommandConfiguration(
        commandName: "echo", abstract: "Run the runtime's smoke service (echo.* events → echo.recorded).")

    @OptionGroup var worker: WorkerOptions
    @OptionGroup var global: GlobalOptions

    func run(_ process: ProcessBootstrap) async throws {
        let configuration = worker.configuration()
        try await runWorker(EchoService.definition(instance: configuration.instance), options: worker, process: process)
    }
}
