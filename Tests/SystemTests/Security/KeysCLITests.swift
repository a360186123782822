import Foundation
import MetroSecurity
import MetroTestKit
import Testing
import ZeroMQ

/// `metro keys` and what a server does with key files it must refuse (protocol.md §7.2).
@Suite struct KeysCLITests {
    @Test func generateWritesThePairAndListShowsIt() async throws {
        let folder = try TemporaryDirectory()
        let dir = folder.url.appendingPathComponent("keys").path
        let generate = try MetroProcess(["keys", "generate", "gateway", "--dir", dir])
        #expect(await generate.waitForExit() == 0, "\(generate.stderrText)")
        let secret = dir + "/gateway.key"
        let attributes = try FileManager.default.attributesOfItem(atPath: secret)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        let keys = try KeyFiles.loadSecret(secret)
        #expect(try KeyFiles.loadPublic(dir + "/gateway.pub") == keys.publicKey)
        // The printed allow-list entry is one that loads.
        let entry = generate.stdoutLines.drop { $0 != "allow-list entry:" }.dropFirst().joined(separator: "\n")
        let list = try AllowList.parse("identities:\n" + entry)
        #expect(list.identity(forPublicKey: keys.publicKey) == "gateway")

        let again = try MetroProcess(["keys", "generate", "gateway", "--dir", dir])
        #expect(await again.waitForExit() != 0)
        #expect(again.stderrText.contains("already exists"), "\(again.stderrText)")

        let listing = try MetroProcess(["keys", "list", "--dir", dir])
        #expect(await listing.waitForExit() == 0)
        #expect(listing.stdoutLines.count == 1)
        #expect(listing.stdoutLines.first?.hasPrefix("gateway") == true)
        #expect(listing.stdoutLines.first?.contains(keys.publicKey) == true)
    }

    @Test func aBrokerRefusesASecretKeyOthersCanRead() async throws {
        let fixture = try SecureFixture(clients: ["app"])
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: fixture.secretKeyPath("broker"))
        let broker = try MetroProcess([
            "broker", "--ingest", "tcp://127.0.0.1:*", "--publish", "tcp://127.0.0.1:*", "--events",
            "tcp://127.0.0.1:*", "--consume", "tcp://127.0.0.1:*", "--metrics", "", "--data-dir",
            fixture.folder.url.appendingPathComponent("journal").path, "--curve-secret-key",
            fixture.secretKeyPath("broker"), "--allow-list", fixture.allowListPath,
        ])
        #expect(await broker.waitForExit(timeout: .seconds(30)) != 0)
        #expect(broker.stderrText.contains("chmod 600"), "\(broker.stderrText)")
        #expect(!broker.stdoutLines.contains { $0.hasPrefix("ready ") })
    }

    /// A permission list that does not follow protocol.md §7.3 (here a glob) stops
    /// the server at start with the reason, rather than load as something else.
    @Test func aRegistryRefusesAnAllowListWithAMalformedPermission() async throws {
        let fixture = try SecureFixture(clients: ["app"])
        try "identities:\n  app:\n    publicKey: \"\(fixture.clients["app"]!.publicKey)\"\n"
            .appending("    permissions: {register: [\"video-*\"]}\n")
            .write(toFile: fixture.allowListPath, atomically: true, encoding: .utf8)
        try fixture.makeKeys("registry")
        let registry = try MetroProcess([
            "registry", "--endpoint", "tcp://127.0.0.1:*", "--curve-secret-key", fixture.secretKeyPath("registry"),
            "--allow-list", fixture.allowListPath,
        ])
        #expect(await registry.waitForExit(timeout: .seconds(30)) != 0)
        #expect(registry.stderrText.contains("not a service name"), "\(registry.stderrText)")
    }
}
