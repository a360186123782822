import Foundation
import Testing

@testable import MetroBroker

/// broker.yaml's `security` section (protocol.md §7.5): off by default, and on
/// only with both of its files named.
@Suite struct SecurityConfigurationTests {
    @Test func offByDefaultAndDecodedWhenGiven() throws {
        #expect(BrokerConfiguration().security.curve == false)
        let json = #"{"security":{"curve":true,"secretKeyFile":"k/broker.key","allowList":"allow.yaml"}}"#
        let c = try JSONDecoder().decode(BrokerConfiguration.self, from: Data(json.utf8))
        #expect(c.security.curve && c.security.secretKeyFile == "k/broker.key" && c.security.allowList == "allow.yaml")
        try c.validate()
        let partial = try JSONDecoder().decode(BrokerConfiguration.self, from: Data(#"{"security":{}}"#.utf8))
        #expect(partial.security == BrokerConfiguration.Security())
        // Who alone may publish `$registry.*` (protocol.md §7.8): "registry" unless named.
        #expect(c.security.registryIdentity == "registry")
        let named = try JSONDecoder().decode(
            BrokerConfiguration.self, from: Data(#"{"security":{"registryIdentity":"reg-1"}}"#.utf8))
        #expect(named.security.registryIdentity == "reg-1")
    }

    @Test func curveNeedsBothFiles() throws {
        var c = BrokerConfiguration()
        c.security.curve = true
        c.security.allowList = "allow.yaml"
        #expect { try c.validate() } throws: {
            ($0 as? BrokerConfiguration.InvalidValue)?.key == "security.secretKeyFile"
        }
        c.security.secretKeyFile = "broker.key"
        c.security.allowList = ""
        #expect { try c.validate() } throws: { ($0 as? BrokerConfiguration.InvalidValue)?.key == "security.allowList" }
    }
}
