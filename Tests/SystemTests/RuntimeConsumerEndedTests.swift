import Foundation
import MetroProtocol
import MetroTestKit
import Testing
import ZeroMQ

/// An instance whose event consumer ends on its own (the broker refused its
/// JOIN) stops with an error instead of serving rpc and staying registered while
/// it takes no events: `metro up` then restarts it. Before, the runtime went on
/// as if nothing had happened, and its group's events waited for a member that
/// never came (one suspect of the chaos soak's stalled recommendations group).
@Suite struct RuntimeConsumerEndedTests {
    /// A real broker and registry, and a ROUTER standing for the broker's consume
    /// socket, which the test answers by hand; `worker` starts on them.
    struct FakeConsume {
        let broker: BrokerHarness
        let registry: RegistryUnderTest
        let consume: Socket
        let data: TemporaryDirectory
        let worker: MetroProcess

        init(worker service: String) async throws {
            broker = try await BrokerHarness(config: "journal:\n  fsync: never\n")
            registry = try await RegistryUnderTest(broker: broker.publish)
            consume = try testContext.socket(.router)
            try consume.set(.receiveTimeout(milliseconds: 10_000))
            let endpoint = try consume.bindResolved("tcp://127.0.0.1:*")
            data = try TemporaryDirectory()
            worker = try MetroProcess([
                "worker", service, "--broker-ingest", broker.ingest, "--broker-consume", endpoint,
                "--registry", registry.endpoint, "--data", data.path, "--instance", "\(service)-1",
            ])
        }

        func close() {
            worker.kill()
            consume.close()
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func aWorkerWhoseJoinIsRefusedExitsWithTheReason() async throws {
        // The consume endpoint the worker is given refuses every JOIN.
        let fake = try await FakeConsume(worker: "recommendations")
        defer { fake.close() }
        let (broker, consume, worker) = (fake.broker, fake.consume, fake.worker)
        // The runtime's retention also asks this endpoint for STATS (its own
        // connection, maybe first): left unanswered, it times out and is logged.
        // The worker's start is not bounded by one 10-s receive (a loaded CI run).
        let deadline = ContinuousClock.now + .seconds(60)
        var join: [[UInt8]] = []
        while join.count < 3 || join[2] != Array("JOIN".utf8) {
            guard let next = try await consume.receiveOffPool() else {
                try #require(
                    ContinuousClock.now < deadline && worker.isRunning,
                    "no JOIN in time; the worker's log: \(worker.stderrText.suffix(3000))")
                continue
            }
            join = next
        }
        let refusal = GroupCodec.Reply.error(
            WireError(.unavailable, "too many groups"), context: [Array("recommendations".utf8)])
        try consume.send(multipart: [join[0]] + refusal.encode())
        let status = await worker.waitForExit(timeout: .seconds(20))
        #expect(status != nil && status != 0, "the worker stopped with an error")
        #expect(worker.stderrText.contains("the consumer of group recommendations ended"))
        #expect(await broker.stop() == 0)
    }

    /// A dead-letter handler (`onDeadLetters`) the broker refuses with 110 (an allow
    /// list written before the video service had one) is logged with what to
    /// change, and the worker goes on; its main group refused the same way still
    /// stops it.
    @Test(.timeLimit(.minutes(2)))
    func aRefusedDeadLetterGroupIsLoggedAndTheWorkerGoesOn() async throws {
        let fake = try await FakeConsume(worker: "video")
        defer { fake.close() }
        let (broker, consume, worker) = (fake.broker, fake.consume, fake.worker)
        // The two consumers JOIN in no set order: a JOIN of the other group, read
        // while waiting for one, is kept for later (dropped, the second wait
        // lasted until the consumer's rejoin, 3 heartbeats later).
        var held: [[[UInt8]]] = []
        // What the fake consume socket read, for a failure's message.
        var seen: [String] = []
        let deadline = ContinuousClock.now + .seconds(60)
        /// Answers the next JOIN of `group` with ERROR 110 (others are kept unanswered).
        func refuseJoin(of group: String) async throws {
            while true {
                let m: [[UInt8]]
                if let i = held.firstIndex(where: { $0[3] == Array(group.utf8) }) {
                    m = held.remove(at: i)
                } else {
                    // A 10-s receive is not a bound on the worker's start: in a
                    // clean-clone CI run (the whole suite beside it, cold caches)
                    // it took longer before its first JOIN, and this test failed
                    // on a nil; here a JOIN may take until `deadline`.
                    guard let next = try await consume.receiveOffPool() else {
                        try #require(
                            ContinuousClock.now < deadline && worker.isRunning,
                            "no JOIN of \(group) in time; read so far: \(seen); the worker \(worker.isRunning ? "runs" : "exited"), its log: \(worker.stderrText.suffix(3000))"
                        )
                        continue
                    }
                    m = next
                    seen.append(
                        m.dropFirst(2).prefix(2).map { String(decoding: $0, as: UTF8.self) }.joined(separator: " "))
                }
                guard m.count >= 4, m[2] == Array("JOIN".utf8) else { continue }
                guard m[3] == Array(group.utf8) else {
                    held.append(m)
                    continue
                }
                let refusal = GroupCodec.Reply.error(
                    WireError(.forbidden, "may not consume $metro.dead.video-processing"), context: [m[3]])
                try consume.send(multipart: [m[0]] + refusal.encode())
                return
            }
        }
        try await refuseJoin(of: "video-processing-dead-letters")
        try await eventually("the refusal logged with what to change") {
            worker.stderrText.contains("the dead letters of this service's events are not handled")
        }
        #expect(worker.stderrText.contains("add $metro.dead.video-processing to this identity's consume list"))
        // Still running; until its own group is refused.
        try await Task.sleep(for: .milliseconds(500))
        #expect(worker.isRunning)
        try await refuseJoin(of: "video-processing")
        let status = await worker.waitForExit(timeout: .seconds(20))
        #expect(status != nil && status != 0, "the worker stopped with an error")
        #expect(worker.stderrText.contains("the consumer of group video-processing ended"))
        #expect(await broker.stop() == 0)
    }
}
