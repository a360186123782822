import Foundation
import GRDB
import MetroKit
import MetroProtocol
import MetroTestKit
import Testing
import ZeroMQ

#if canImport(Glibc)
    import Glibc
#endif

/// The service runtime with real processes: `metro broker`, `metro registry` and
/// `metro worker echo` (the runtime's smoke service, Sources/metro/Worker). One
/// serialized suite: each test runs three processes on a 2-core box.
@Suite(.serialized) struct RuntimeEchoTests {
    /// A `ServiceStack` and a live collector of `echo.recorded`.
    struct Stack {
        let base: ServiceStack
        let recorded: LiveCollector

        init(brokerConfig: String = ServiceStack.brokerConfig) async throws {
            base = try await ServiceStack(brokerConfig: brokerConfig)
            recorded = try await base.collect(["echo.recorded"])
        }

        func start(environment: [String: String] = [:], extra: [String] = []) async throws -> EchoWorker {
            try await base.start(EchoKind.self, environment: environment, extra: extra)[0]
        }

        func say(_ id: String, _ text: String = "hi", delayMs: Int? = nil, topic: String = "echo.hello") async throws {
            let payload = delayMs.map { "{\"text\":\"\(text)\",\"delayMs\":\($0)}" } ?? "{\"text\":\"\(text)\"}"
            try await base.publish(topic, payload, eventID: id)
        }

        /// The `echo.recorded` events seen so far, by the id of the event they record.
        func recordedIDs() throws -> [String] {
            try recorded.events.map { e in
                let object = try JSONDecoder().decode([String: String].self, from: Data(e.payload))
                return object["eventId"] ?? "?"
            }
        }

        func group() async throws -> GroupStats? { try await base.group("echo") }

        /// The registered instances of echo.
        func instances() async throws -> [InstanceInfo] { try await base.instances("echo") }
    }

    @Test func oneEventMakesOneEffectAndOneRecordedEvent() async throws {
        let stack = try await Stack()
        let worker = try await stack.start(extra: ["--metrics", "127.0.0.1:0"])
        try await closing(stack.base) {
            // The correlation members of the event's headers flow into what its handler publishes.
            let trace = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
            _ = try await stack.base.publisher.publish(
                topic: "echo.hello", payload: bytes(#"{"text":"hello"}"#),
                headers: bytes(#"{"schema":"1.4","requestId":"req-7","traceparent":"\#(trace)"}"#),
                eventID: bytes("e-1"))
            try await eventually("one echo.recorded") { try stack.recordedIDs() == ["e-1"] }
            #expect(try worker.effects().map(\.eventID) == ["e-1"])
            let event = try #require(stack.recorded.events.first)
            let headers = try JSONDecoder().decode([String: String].self, from: Data(event.headers))
            #expect(headers == ["schema": "1.0", "requestId": "req-7", "traceparent": trace])
            // The recorded event went through the outbox: a UUID as its id, marked sent.
            #expect(UUID(uuidString: String(decoding: event.eventID, as: UTF8.self)) != nil)
            try await eventually("the outbox row marked sent") { try worker.unsentOutbox() == 0 }
            // Its own echo.recorded reaches it too (prefix echo.): ACKed without an effect.
            try await eventually("the group drained") { try await stack.group()?.pending == 0 }
            #expect(try worker.effects().count == 1)

            // rpc: the bound endpoint is registered, and echo.say answers on it.
            let endpoint = try #require(worker.ready["rpc"])
            try await eventually("registered") { try await stack.instances().map(\.endpoints) == [[endpoint]] }
            let reply = try await RawDealer(endpoint).call(rpcRequest("r-1", "echo.say", #"{"text":"hi"}"#))
            #expect(reply == .reply(requestID: bytes("r-1"), body: bytes(#"{"instance":"echo-1","text":"hi"}"#)))
            let bad = try await RawDealer(endpoint).call(rpcRequest("r-2", "echo.say", #"{"txt":"hi"}"#))
            guard case .error(let e, _) = bad else { throw WaitError.timedOut("an error reply") }
            #expect(e.code == .badRequest)

            // The Prometheus endpoint has the runtime's series (operations.md, "Service workers").
            let metrics = try await httpGet(try #require(worker.ready["metrics"]), path: "/metrics")
            for series in [
                #"metro_service_events_total{topic="echo.hello",outcome="handled"} 1"#,
                #"metro_service_events_total{topic="echo.recorded",outcome="handled"} 1"#,
                #"metro_service_rpc_requests_total{method="echo.say",code="ok"} 1"#,
                "metro_service_outbox_pending 0.0", "metro_service_event_seconds", "metro_service_rpc_seconds",
            ] {
                #expect(metrics.contains(series), "\(series)")
            }
            worker.process.kill(SIGTERM)
            #expect(await worker.exit() == 0)
        }
    }

    @Test func aCrashBetweenCommitAndAckLeavesOneEffect() async throws {
        let stack = try await Stack()
        let worker = try await stack.start(environment: ["METRO_FAULT_CRASH_AT": "after-commit"])
        try await closing(stack.base) {
            try await stack.say("e-1")
            #expect(await worker.exit() == SIGKILL, "killed itself after the commit, before the ACK")
            #expect(await worker.process.stderrShows("SIGKILL at after-commit"))
            #expect(try worker.effects().map(\.eventID) == ["e-1"])

            try await stack.base.restart(worker)
            // The broker redelivers e-1 (its member is gone); the inbox knows it.
            try await eventually("e-1 redelivered and ACKed") {
                guard let g = try await stack.group() else { return false }
                return g.redelivered >= 1 && g.pending == 0
            }
            // A later event, so that its echo.recorded shows the relay went past e-1's row.
            try await stack.say("e-2")
            try await eventually("e-2 recorded") { try stack.recordedIDs().contains("e-2") }
            #expect(try worker.effects().map(\.eventID) == ["e-1", "e-2"])
            #expect(try worker.effects().map(\.attempt) == [1, 1])
            #expect(try stack.recordedIDs() == ["e-1", "e-2"])
            worker.process.kill(SIGTERM)
            #expect(await worker.exit() == 0)
        }
    }

    /// A first delivery (attempt 1) of an event whose effect committed already:
    /// what a broker restarted from a `groups.state` older than the ACK sends.
    /// The runtime reads the inbox before the handler only for redeliveries, so
    /// the handler runs here, and the inbox insert in its commit finds the id:
    /// no second effect, no second outbox row, ACKed and counted as a duplicate.
    /// The runtime's retention (`RuntimeRetention`), with ages of under 2 s, on a
    /// broker whose journal keeps 256 KiB: sent outbox rows go once old; inbox rows
    /// stay, however old, while the journal holds their events (a group started
    /// again from the start would get them), and go once retention dropped those.
    /// Until 2026-12-04 both tables kept a row per event for ever (the outbox with
    /// each payload).
    @Test func oldOutboxRowsGoAndInboxRowsOnceTheJournalDroppedTheirEvents() async throws {
        let stack = try await Stack(brokerConfig: BrokerSystemTests.smallRetention)
        let worker = try await stack.start(extra: [
            "--inbox-retention-hours", "0.0005", "--outbox-retention-hours", "0.0005", "--retention-interval-ms", "200",
        ])
        try await closing(stack.base) {
            func count(_ table: String) throws -> Int {
                try worker.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM \(table)") ?? -1 }
            }
            for id in ["e-1", "e-2", "e-3"] { try await stack.say(id) }
            try await eventually("three recorded") { try stack.recordedIDs().count == 3 }
            // Six inbox rows: each echo.hello, and each echo.recorded, which comes back
            // to the group (its prefix is echo.) for an inbox-only commit.
            try await eventually("six inbox rows") { try count("metro_inbox") == 6 }
            let inbox = 6
            #expect(try count("metro_outbox") == 3)
            // A pass deletes inbox rows first, then outbox rows: once the outbox rows
            // went, the echo.hello rows (handled before their echo.recorded was sent)
            // were old enough too, and stayed.
            try await eventually("the sent outbox rows deleted once 1.8 s old", timeout: .seconds(20)) {
                try count("metro_outbox") == 0
            }
            #expect(try count("metro_inbox") == inbox, "the journal still holds their events")
            let last = try await stack.base.broker.stats().headSeq
            _ = try await publishMany(
                stack.base.publisher, count: 400, topics: ["filler.x"], idPrefix: "filler", payloadBytes: 1000)
            try await eventually("retention dropped the echo events") {
                try await stack.base.broker.stats().firstSeq ?? 0 > last
            }
            try await eventually("their inbox rows deleted", timeout: .seconds(20)) { try count("metro_inbox") == 0 }
            #expect(await worker.process.stderrShows("retention: deleted old rows"))
            #expect(try stack.recordedIDs().sorted() == ["e-1", "e-2", "e-3"], "nothing was published again")
        }
    }

    @Test func aFirstDeliveryOfAnEventHandledAlreadyChangesNothing() async throws {
        let stack = try await Stack()
        let worker = try await stack.start()
        try await closing(stack.base) {
            try await stack.say("e-1")
            try await eventually("e-1 recorded") { try stack.recordedIDs() == ["e-1"] }
            worker.process.kill(SIGTERM)
            #expect(await worker.exit() == 0)
            // e-2's effect "committed" before its event was ever delivered to this group.
            try worker.write { db in
                try db.execute(
                    sql: "INSERT INTO metro_inbox (consumer_group, event_id, topic, handled_at) VALUES (?, ?, ?, ?)",
                    arguments: ["echo", Data("e-2".utf8), "echo.hello", Date().timeIntervalSince1970])
            }
            try await stack.base.restart(worker, extra: ["--metrics", "127.0.0.1:0"])
            try await stack.say("e-2")
            try await stack.say("e-3")
            try await eventually("e-3 recorded") { try stack.recordedIDs().contains("e-3") }
            try await eventually("the group drained") { try await stack.group()?.pending == 0 }
            #expect(try worker.effects().map(\.eventID) == ["e-1", "e-3"])
            #expect(try stack.recordedIDs() == ["e-1", "e-3"])
            #expect(try worker.outboxTopics() == ["echo.recorded", "echo.recorded"])
            // The counters move just after the ACK is queued: read until both show.
            let endpoint = try #require(worker.ready["metrics"])
            try await eventually("e-2 counted a duplicate, e-3 handled") {
                let metrics = try await httpGet(endpoint, path: "/metrics")
                return metrics.contains(#"metro_service_events_total{topic="echo.hello",outcome="duplicate"} 1"#)
                    && metrics.contains(#"metro_service_events_total{topic="echo.hello",outcome="handled"} 1"#)
            }
            #expect(try await stack.group()?.redelivered == 0, "e-2 came as a first delivery")
        }
    }

    /// The service's own disk fails its syncs (the fault library preloaded into the
    /// worker, matching `echo.sqlite*`): the commits of the events that arrive then
    /// fail as a whole (group commit: every event of a failed pass), nothing is ACKed,
    /// the events are NAKed and come back; once the disk works again each has its
    /// effect and its `echo.recorded` exactly once.
    /// fsync fails (EIO) under the worker's database for longer than the broker's 5
    /// deliveries would last if each failure were NAKed: the runtime holds each
    /// delivery and retries it in place, so nothing is dead-lettered or redelivered,
    /// and each effect commits once when the syncs work again.
    @Test func aServiceDiskThatFailsItsSyncsLosesNoEventAndAppliesEachOnce() async throws {
        let stack = try await Stack()
        let disk = try FaultInjection(pathFilter: "echo.sqlite")
        let dead = try await stack.base.deadLetters("echo")
        let worker = try await stack.start(
            environment: try disk.environment, extra: ["--metrics", "127.0.0.1:0"])
        try await closing(stack.base) {
            disk.failSyncs(true)
            let ids = (1...6).map { "d-\($0)" }
            for id in ids { try await stack.say(id) }
            let endpoint = try #require(worker.ready["metrics"])
            // 100 ms doubling to 1 s: the 6th retry of an event comes ~3.5 s after its first
            // failure, twice the ~1.5 s the broker's 5 NAKed deliveries would last.
            try await eventually("the commits failing and held (or dead-lettered)") {
                let retries = try await ProfilesDiskFullTests.storageRetries(endpoint, topic: "echo.hello")
                return retries >= 6 * ids.count || !dead.events.isEmpty
            }
            #expect(dead.events.isEmpty, "failing syncs dead-letter nothing")
            #expect(await worker.process.stderrShows("faultinject: fdatasync EIO"))
            #expect(try worker.effects().isEmpty, "no commit stood while the syncs failed")
            #expect(try await stack.group()?.pending == ids.count, "every event held, none ACKed")
            disk.failSyncs(false)
            try await eventually("every event recorded") { Set(try stack.recordedIDs()) == Set(ids) }
            try await eventually("the group drained") { try await stack.group()?.pending == 0 }
            #expect(try worker.effects().map(\.eventID).sorted() == ids)
            #expect(try stack.recordedIDs().count == ids.count)
            #expect(try await stack.group()?.redelivered == 0, "held, never NAKed")
            #expect(dead.events.isEmpty, "failing syncs dead-letter nothing")
            #expect(
                try await httpGet(endpoint, path: "/metrics").contains(
                    #"metro_service_events_total{topic="echo.hello",outcome="failed"}"#) == false)
            worker.process.kill(SIGTERM)
            #expect(await worker.exit() == 0)
        }
    }

    @Test func aCrashBetweenOutboxCommitAndRelayPublishesOnce() async throws {
        let stack = try await Stack()
        let worker = try await stack.start(environment: ["METRO_FAULT_CRASH_AT": "after-outbox-commit"])
        try await closing(stack.base) {
            try await stack.say("e-1")
            #expect(await worker.exit() == SIGKILL, "killed itself after the outbox commit")
            #expect(await worker.process.stderrShows("SIGKILL at after-outbox-commit"))
            #expect(try worker.unsentOutbox() == 1)
            #expect(try stack.recordedIDs().isEmpty, "nothing was published before the crash")

            try await stack.base.restart(worker)
            try await eventually("the left row published") { try stack.recordedIDs() == ["e-1"] }
            try await eventually("e-1 redelivered and ACKed") {
                guard let g = try await stack.group() else { return false }
                return g.redelivered >= 1 && g.pending == 0
            }
            try await stack.say("e-2")
            try await eventually("e-2 recorded") { try stack.recordedIDs().contains("e-2") }
            #expect(try stack.recordedIDs() == ["e-1", "e-2"], "exactly one echo.recorded per committed effect")
            #expect(try worker.effects().map(\.eventID) == ["e-1", "e-2"])
            // The broker fans e-2's echo.recorded out as it ACKs it; the relay marks
            // the row sent only after that ACK has come back: wait for the mark.
            try await eventually("the outbox rows marked sent") { try worker.unsentOutbox() == 0 }
            worker.process.kill(SIGTERM)
            #expect(await worker.exit() == 0)
        }
    }

    @Test func aGarbagePayloadIsDeadLetteredAndTheServiceKeepsServing() async throws {
        // Heartbeats of 1 s (a member is lost after 3 s of silence), not the stack's 200 ms:
        // with 600 ms, a worker starved of CPU at the suite's start was once declared lost
        // with a poison event in hand, which then came back as its second delivery.
        let stack = try await Stack(brokerConfig: "heartbeatIntervalMs: 1000\njournal:\n  fsync: never\n")
        let dead = try await stack.base.deadLetters("echo")
        let worker = try await stack.start(extra: ["--max-deliveries", "3"])
        try await closing(stack.base) {
            let poison: [(id: String, payload: String, headers: String, detail: String)] = [
                ("not-json", "{nope", "", "payload is not JSON"),
                ("duplicate-key", #"{"text":"a","text":"b"}"#, "", "payload is not JSON"),
                ("wrong-shape", #"{"txt":"a"}"#, "", "payload does not decode as Said: missing text"),
                ("schema-2", #"{"text":"a"}"#, #"{"schema":"2.0"}"#, #"schema "2.0" is not major 1"#),
                ("bad-headers", #"{"text":"a"}"#, "[1]", "headers are not a JSON object"),
            ]
            for p in poison {
                _ = try await stack.base.publisher.publish(
                    topic: "echo.hello", payload: bytes(p.payload), headers: bytes(p.headers), eventID: bytes(p.id))
            }
            try await stack.say("good")
            try await eventually("the poison dead-lettered") { dead.events.count == poison.count }
            // Handled concurrently: the letters come in any order.
            let letters = Dictionary(
                uniqueKeysWithValues: dead.events.map { (String(decoding: $0.eventID, as: UTF8.self), $0) })
            for p in poison {
                let letter = try #require(letters[p.id], "\(p.id) dead-lettered")
                #expect(letter.payload == bytes(p.payload))
                let headers = try JSONDecoder().decode([String: String].self, from: Data(letter.headers))
                #expect(headers["group"] == "echo" && headers["topic"] == "echo.hello")
                // Rejected on its first delivery (REJECT, protocol.md §4.10), not after --max-deliveries NAKs.
                #expect(headers["reason"] == "rejected" && headers["deliveries"] == "1", "\(p.id)")
                #expect(headers["detail"]?.hasPrefix(p.detail) == true, "\(p.id): \(headers)")
            }
            // The log lines of an event carry its id and topic (swift-log metadata).
            #expect(await worker.process.stderrShows("event-id=not-json"))
            try await eventually("the good event recorded") { try stack.recordedIDs().contains("good") }
            #expect(try worker.effects().map(\.eventID) == ["good"])
            try await eventually("the group drained") { try await stack.group()?.pending == 0 }
            #expect(try await stack.group()?.deadLettered == UInt64(poison.count))
            worker.process.kill(SIGTERM)
            #expect(await worker.exit() == 0)
        }
    }

    @Test func twoInstancesOnOneDatabaseShareTheWork() async throws {
        let stack = try await Stack()
        // echo-1 creates the database, echo-2 opens it (one data folder).
        let workers = try await stack.base.start(EchoKind.self, count: 2)
        let (a, b) = (workers[0], workers[1])
        try await closing(stack.base) {
            try await eventually("both members joined") { try await stack.group()?.members == 2 }
            for i in 0..<200 { try await stack.say("e-\(i)") }
            try await eventually("200 recorded", timeout: .seconds(60)) { try stack.recordedIDs().count >= 200 }
            let effects = try a.effects()
            #expect(effects.count == 200 && Set(effects.map(\.eventID)).count == 200)
            let byInstance = try Dictionary(grouping: stack.recorded.events) { e in
                try JSONDecoder().decode([String: String].self, from: Data(e.payload))["instance"] ?? "?"
            }
            #expect(byInstance["echo-1"] != nil && byInstance["echo-2"] != nil, "\(byInstance.mapValues(\.count))")
            #expect(Set(try stack.recordedIDs()).count == 200)
            try await eventually("the group drained") { try await stack.group()?.pending == 0 }
            // A third instance cannot bind the rpc endpoint of the first: it exits with
            // the bind error and prints no ready line.
            let taken = try #require(a.ready["rpc"])
            await #expect(throws: MetroProcessError.self) {
                try await stack.start(extra: ["--rpc-bind", taken])
            }
            for w in [a, b] { w.process.kill(SIGTERM) }
            let statuses = [await a.exit(), await b.exit()]
            #expect(statuses == [0, 0])
        }
    }

    @Test func sigtermFinishesTheEventsInFlightThenExits() async throws {
        let stack = try await Stack()
        let worker = try await stack.start()
        try await closing(stack.base) {
            // Exactly the handler's concurrency (8), each taking 1.5 s: all in flight at once.
            for i in 0..<8 { try await stack.say("slow-\(i)", delayMs: 1500) }
            try await eventually("8 in flight") { try await stack.group()?.pending == 8 }
            #expect(try worker.effects().isEmpty)
            // And an rpc call in flight (1.5 s) on a registered instance.
            let endpoint = try #require(worker.ready["rpc"])
            try await eventually("registered") { try await stack.instances().count == 1 }
            let caller = try RawDealer(endpoint)
            try await caller.send(rpcRequest("slow", "echo.say", #"{"text":"late","delayMs":1500}"#).encode())
            // The server takes calls in order: once "fast" is answered, "slow" runs.
            let fast = try await caller.call(rpcRequest("fast", "echo.say", #"{"text":"now"}"#))
            #expect(fast.requestID == bytes("fast"))
            worker.process.kill(SIGTERM)
            let reply = try RpcReply.decode(try await caller.receive()).get()
            #expect(reply == .reply(requestID: bytes("slow"), body: bytes(#"{"instance":"echo-1","text":"late"}"#)))
            #expect(await worker.exit(timeout: .seconds(20)) == 0)
            #expect(try await stack.instances().isEmpty, "deregistered (its 10 s lease has not expired)")
            #expect(!worker.process.isRunning)
            #expect(try worker.effects().count == 8, "every event in flight committed before the exit")
            #expect(try worker.unsentOutbox() == 0, "the outbox was flushed before the exit")
            #expect(try worker.effects().allSatisfy { $0.attempt == 1 })
            try await eventually("8 echo.recorded") { try stack.recordedIDs().count == 8 }
            // Every ACK reached the broker before the member left: none of the 8 is
            // waiting (what is left pending are the 8 echo.recorded events, which
            // the group's prefix echo. also takes, for the next member).
            let g = try #require(try await stack.group())
            #expect(g.redelivered == 0 && g.members == 0 && g.pending <= 8)
        }
    }

    @Test func sigtermStopsGrantingSoWaitingEventsGoToTheNextMemberAsFirstDeliveries() async throws {
        let stack = try await Stack()
        let worker = try await stack.start(extra: ["--log-level", "debug"])
        try await closing(stack.base) {
            // Twice the handler's concurrency: 8 run, 8 wait at the broker.
            for i in 0..<16 { try await stack.say("slow-\(i)", delayMs: 1000) }
            try await eventually("8 handlers started") {
                worker.process.stderrText.components(separatedBy: "handling event").count - 1 == 8
            }
            worker.process.kill(SIGTERM)
            #expect(await worker.exit(timeout: .seconds(20)) == 0)
            #expect(try worker.effects().count == 8)
            // Without the drain, the 8 ACKs would have granted 8 credits and the broker
            // would have handed the waiting 8 to the stopping member, which never started
            // them: they would reach the next member as second deliveries.
            try await stack.base.restart(worker)
            try await eventually("16 effects", timeout: .seconds(30)) { try worker.effects().count == 16 }
            #expect(try worker.effects().map(\.attempt) == Array(repeating: 1, count: 16))
            try await eventually("16 echo.recorded") { try stack.recordedIDs().count == 16 }
            worker.process.kill(SIGTERM)
            #expect(await worker.exit() == 0)
        }
    }

    @Test func aWorkerTheRegistryRefusesForGoodStops() async throws {
        let stack = try await Stack()
        // A newer incarnation of echo-1 holds the id: the worker's REGISTER is 301
        // stale-epoch, which retrying cannot fix (protocol.md §5.4).
        let newer = try MetroProcess([
            "announce", "--registry", stack.base.registry.endpoint, "--service", "echo", "--instance", "echo-1",
            "--endpoint", "tcp://127.0.0.1:9", "--epoch", "18000000000000000000",
        ])
        defer { newer.kill() }
        _ = try await newer.waitUntilReady()
        try await closing(stack.base) {
            // Launched directly: it becomes ready, then exits, never registered.
            let worker = try await EchoWorker.launch(broker: stack.base.broker, registry: stack.base.registry.endpoint)
            let status = await worker.exit(timeout: .seconds(20))
            #expect(status != nil && status != 0, "exits with an error instead of serving unregistered")
            #expect(await worker.process.stderrShows("the registry refused this instance for good"))
            #expect(try await stack.instances().map(\.endpoints) == [["tcp://127.0.0.1:9"]])
        }
    }
}
