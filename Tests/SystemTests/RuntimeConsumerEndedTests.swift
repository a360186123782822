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

    @Test(.timeLimit(.minutes(1)))
    func aWorkerWhoseJoinIsRefusedExitsWithTheReason() async throws {
        // The consume endpoint the worker is given refuses every JOIN.
        let fake = try await FakeConsume(worker: "recommendations")
        defer { fake.close() }
        let (broker, consume, worker) = (fake.broker, fake.consume, fake.worker)
        // The runtime's retention also asks this endpoint for STATS (its own
        // connection, maybe first): left unanswered, it times out and is logged.
        var join = try #require(try await consume.receiveOffPool())
        while join.count >= 3 && join[2] == Array("STATS".utf8) {
            join = try #require(try await consume.receiveOffPool())
        }
        #expect(join.count >= 3 && join[2] == Array("JOIN".utf8))
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
    @Test(.timeLimit(.minutes(1)))
    func aRefusedDeadLetterGroupIsLoggedAndTheWorkerGoesOn() async throws {
        let fake = try await FakeConsume(worker: "video")
        defer { fake.close() }
        let (broker, consume, worker) = (fake.broker, fake.consume, fake.worker)
        /// Answers the next JOIN of `group` with ERROR 110 (others are left unanswered).
        func refuseJoin(of group: String) async throws {
            while true {
                let m = try #require(try await consume.receiveOffPool())
                guard m.count >= 4, m[2] == Array("JOIN".utf8), m[3] == Array(group.utf8) else { continue }
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
