import Foundation
import MetroKit
import MetroProtocol
import MetroTestKit
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The `ServiceStack` harness's own parts, with `metro worker echo`: kill -9 and
/// restart of a worker, the registry and the broker, each followed by calls and
/// events that still get through (design.md, "Faults it must survive").
@Suite(.serialized) struct ServiceStackTests {
    struct Say: Codable, Sendable { var text: String }
    struct Answer: Codable, Sendable {
        var text: String
        var instance: String
    }
    /// `echo.say` as a caller declares it (Sources/metro/Worker/EchoService.swift).
    static let say = RpcMethod<Say, Answer>("echo.say", idempotent: true)

    @Test func callsAndEventsGetThroughAfterAWorkerTheRegistryAndTheBrokerAreKilledAndRestarted() async throws {
        let stack = try await ServiceStack()
        let workers = try await stack.start(EchoKind.self, count: 2)
        try await closing(stack) {
            // Both instances answer: calls balance over what the registry lists.
            var answeredBy: Set<String> = []
            try await eventually("both instances answered") {
                answeredBy.insert(try await stack.call(Self.say, Say(text: "hi")).instance)
                return answeredBy == ["echo-1", "echo-2"]
            }

            // A worker killed -9: the other one answers; restarted, it registers as echo-3.
            await workers[0].kill9()
            #expect(try await stack.call(Self.say, Say(text: "still")).instance == "echo-2")
            try await stack.restart(workers[0])
            #expect(workers[0].ready["instance"] == "echo-3")

            // The registry killed -9 and restarted where it was: every worker registers again.
            try await stack.restartRegistry()
            try await eventually("both registered again") {
                Set(try await stack.instances("echo").map(\.instance)) == ["echo-2", "echo-3"]
            }
            #expect(try await stack.call(Self.say, Say(text: "again")).text == "again")

            // The broker killed -9 and restarted: an event published after it is handled
            // once, and its echo.recorded published. (A live collector of before the
            // restart may miss it: its SUB reconnects on its own time, and live fan-out
            // does not wait for it. So a new one, live before the publish.)
            await stack.broker.kill9()
            try await stack.broker.restart()
            let recordedAfter = try await stack.collect(["echo.recorded"])
            try await stack.publish("echo.hello", #"{"text":"after"}"#, eventID: "after-broker")
            try await eventually("the event handled") { try workers[0].effects().map(\.eventID) == ["after-broker"] }
            try await eventually("the event recorded") {
                recordedAfter.events.contains { String(decoding: $0.payload, as: UTF8.self).contains("after-broker") }
            }

            let statuses = await stack.stopWorkers()
            #expect(statuses == ["echo-2": 0, "echo-3": 0], "\(statuses)")
        }
    }
}
