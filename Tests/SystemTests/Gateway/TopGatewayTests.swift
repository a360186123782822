import Foundation
import MetroKit
import MetroTestKit
import Testing

/// `metro top` shows the gateway beside the broker and the registry: its
/// requests, 429s, 5xx and p99 over the interval, and each upstream's adaptive
/// limit, from its `/metrics`. The front door is where an overload or a lost
/// service shows first.
@Suite struct TopGatewayTests {
    @Test func onceJSONCarriesTheGatewaysRatesAndUpstreams() async throws {
        let stack = try await GatewayStack()
        let user = try await stack.createUser("Ada")
        for _ in 0..<20 { #expect(try await stack.gateway.get("/v1/users/\(user)").status == 200) }
        for _ in 0..<5 {
            #expect(try await stack.gateway.get("/v1/users/00000000-0000-4000-8000-000000000000").status == 404)
        }
        // Traffic all along, so that any interval between top's two samples has
        // some, however slowly a loaded machine runs either side.
        let traffic = Task {
            while !Task.isCancelled { _ = try? await stack.gateway.get("/v1/users/\(user)") }
        }
        let top = try MetroProcess([
            "top", "--once", "--json", "--interval", "1", "--consume", stack.broker.consume, "--registry",
            stack.registry.endpoint, "--gateway", stack.gateway.address,
        ])
        let status = await top.waitForExit(timeout: .seconds(30))
        traffic.cancel()
        #expect(status == 0, "\(top.stderrText)")
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(top.stdoutLines.joined().utf8)) as? [String: Any])
        let gateway = try #require(object["gateway"] as? [String: Any], "\(object.keys)")
        #expect(gateway["ok"] as? Bool == true, "\(gateway)")
        #expect(gateway["address"] as? String == stack.gateway.address)
        let byClass = try #require(gateway["requestsByClass"] as? [String: Double])
        #expect((byClass["2xx"] ?? 0) >= 21 && (byClass["4xx"] ?? 0) >= 5, "\(byClass)")
        let rate = try #require(gateway["requestsPerSecond"] as? Double)
        #expect(rate > 0, "requests all through the interval: \(rate)/s")
        #expect(gateway["status5xxPerSecond"] is Double && gateway["status429PerSecond"] is Double)
        let p99 = gateway["p99Seconds"]
        #expect((p99 as? Double ?? 0) > 0 || p99 as? String == "+Inf", "\(gateway)")
        let upstreams = try #require(gateway["upstreams"] as? [String: [String: Double]])
        #expect((upstreams["profiles"]?["limit"] ?? 0) >= 1, "\(upstreams)")
    }

    @Test func theFrameSaysWhenTheGatewayIsNotThere() async throws {
        let broker = try await BrokerHarness()
        let registry = try await RegistryUnderTest()
        let top = try MetroProcess([
            "top", "--once", "--interval", "0.2", "--consume", broker.consume, "--registry", registry.endpoint,
            "--gateway", "127.0.0.1:1",
        ])
        #expect(await top.waitForExit(timeout: .seconds(20)) == 0, "\(top.stderrText)")
        let frame = top.stdoutLines.joined(separator: "\n")
        #expect(frame.contains("GATEWAY  http://127.0.0.1:1: not answering at 127.0.0.1:1"), "\(frame)")
        // With another broker named and no --gateway, none is looked for.
        let plain = try MetroProcess([
            "top", "--once", "--json", "--interval", "0.2", "--consume", broker.consume, "--registry",
            registry.endpoint,
        ])
        #expect(await plain.waitForExit(timeout: .seconds(20)) == 0, "\(plain.stderrText)")
        #expect(!plain.stdoutLines.joined().contains("\"gateway\""))
        registry.process.kill()
        _ = await broker.stop()
    }
}
