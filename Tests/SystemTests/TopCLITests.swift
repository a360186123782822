import Foundation
import MetroKit
import MetroProtocol
import MetroTestKit
import Testing

/// A small system for `metro top` to look at: a broker, a registry with one
/// announced instance, a group `workers` on `video.` whose one member holds two
/// deliveries without ACKing them, and 10 `video.` and 3 `profile.` events.
struct TopSystem {
    let broker: BrokerHarness
    let registry: RegistryUnderTest
    let announce: MetroProcess
    let member: MetroProcess

    static func start() async throws -> TopSystem {
        let broker = try await BrokerHarness()
        let registry = try await RegistryUnderTest()
        let announce = try MetroProcess([
            "announce", "--registry", registry.endpoint, "--service", "echo", "--instance", "echo-1", "--endpoint",
            "tcp://127.0.0.1:5999",
        ])
        try await announce.waitUntilReady()
        let member = try MetroProcess([
            "consume", "--consume", broker.consume, "--group", "workers", "--prefix", "video.", "--no-ack", "--window",
            "2",
        ])
        try await member.waitUntilReady()
        let publisher = try Publisher(.init(ingest: broker.ingest))
        try await closing(publisher) {
            for i in 0..<10 {
                _ = try await publisher.publish(topic: "video.uploaded", payload: bytes("{}"), eventID: bytes("v\(i)"))
            }
            for i in 0..<3 {
                _ = try await publisher.publish(topic: "profile.created", payload: bytes("{}"), eventID: bytes("p\(i)"))
            }
        }
        try await eventually("two deliveries held") { member.stdoutLines.count == 3 }
        return TopSystem(broker: broker, registry: registry, announce: announce, member: member)
    }

    func stop() async {
        member.kill()
        announce.kill()
        registry.process.kill()
        _ = await broker.stop()
    }
}

/// `metro top --once --json` (issue 16 §4b): the numbers a script reads.
@Suite struct TopCLITests {
    @Test func onceJSONHasTheTopicsGroupsServicesAndBrokerFigures() async throws {
        let system = try await TopSystem.start()
        let top = try MetroProcess([
            "top", "--once", "--json", "--interval", "0.3", "--consume", system.broker.consume, "--registry",
            system.registry.endpoint,
        ])
        let status = await top.waitForExit(timeout: .seconds(20))
        let stats = try await system.broker.stats()
        await system.stop()
        #expect(status == 0, "\(top.stderrText)")
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(top.stdoutLines.joined().utf8)) as? [String: Any])
        let broker = try #require(object["broker"] as? [String: Any])
        #expect(broker["ok"] as? Bool == true)
        #expect((broker["rssBytes"] as? Int ?? 0) > 1_000_000)
        #expect((broker["journalSizeBytes"] as? Int ?? 0) > 0)
        #expect((broker["headSeq"] as? NSNumber)?.uint64Value == stats.headSeq)
        let topics = try #require(broker["topics"] as? [[String: Any]])
        let byPrefix = Dictionary(uniqueKeysWithValues: topics.map { ($0["prefix"] as? String ?? "", $0) })
        #expect(byPrefix["video"]?["in"] as? Int == 10)
        #expect(byPrefix["video"]?["out"] as? Int == 2, "two deliveries to the member")
        #expect(byPrefix["profile"]?["in"] as? Int == 3)
        #expect(byPrefix["profile"]?["out"] as? Int == 0)
        #expect(byPrefix["video"]?["inPerSecond"] as? Double == 0, "no traffic between the two samples")
        let groups = try #require(broker["groups"] as? [[String: Any]])
        #expect(groups.count == 1)
        let workers = try #require(groups.first)
        let expected = try #require(stats.groups["workers"])
        #expect(workers["name"] as? String == "workers")
        #expect(workers["members"] as? Int == 1)
        #expect(workers["pending"] as? Int == 2)
        #expect((workers["lag"] as? NSNumber)?.uint64Value == expected.lag)
        #expect(expected.lag > 0)
        #expect((workers["position"] as? NSNumber)?.uint64Value == expected.position)
        #expect(workers["deadLettered"] as? Int == 0)
        let registry = try #require(object["registry"] as? [String: Any])
        #expect(registry["ok"] as? Bool == true)
        let services = try #require(registry["services"] as? [[String: Any]])
        #expect(services.map { $0["service"] as? String } == ["echo"])
        let instances = try #require(services.first?["instances"] as? [[String: Any]])
        #expect(instances.map { $0["instance"] as? String } == ["echo-1"])
        #expect((instances.first?["leaseLeftMs"] as? Int ?? 0) > 0)
        #expect((instances.first?["ageMs"] as? Int ?? -1) >= 0)
    }

    /// Rates are the difference of two samples: with traffic flowing through the
    /// two-second window, `load`'s events in per second are above 0. (Traffic
    /// starts before top does: under the whole suite's load, a publisher that
    /// had not connected yet published nothing within top's window once.)
    @Test func onceJSONMeasuresARateWhileTrafficFlows() async throws {
        let broker = try await BrokerHarness()
        let publisher = try Publisher(.init(ingest: broker.ingest))
        let (status, object) = try await closing(publisher) {
            // Traffic flows before top's first sample: the first event is ACKed.
            _ = try await publisher.publish(topic: "load.tick", payload: bytes("{}"), eventID: bytes("first"))
            let load = Task {
                var i = 0
                while !Task.isCancelled {
                    _ = try? await publisher.publish(topic: "load.tick", payload: bytes("{}"), eventID: bytes("t\(i)"))
                    i += 1
                    try? await Task.sleep(for: .milliseconds(10))
                }
            }
            let top = try MetroProcess([
                "top", "--once", "--json", "--interval", "2", "--consume", broker.consume, "--registry",
                "tcp://127.0.0.1:\(TestPorts.next())", "--timeout-ms", "3000",
            ])
            let status = await top.waitForExit(timeout: .seconds(20))
            load.cancel()
            _ = await load.value
            return (
                status, try JSONSerialization.jsonObject(with: Data(top.stdoutLines.joined().utf8)) as? [String: Any]
            )
        }
        // The registry does not answer: said in the object, and top still exits 0.
        #expect(status == 0)
        let registry = try #require(object?["registry"] as? [String: Any])
        #expect(registry["ok"] as? Bool == false)
        #expect((registry["error"] as? String)?.isEmpty == false)
        let broker2 = try #require(object?["broker"] as? [String: Any])
        let load = try #require((broker2["topics"] as? [[String: Any]])?.first { $0["prefix"] as? String == "load" })
        #expect((load["inPerSecond"] as? Double ?? 0) > 0, "\(load)")
        #expect((broker2["inPerSecond"] as? Double ?? 0) > 0)
        #expect(await broker.stop() == 0)
    }
}
