import Foundation
import MetroSecurity
import MetroTestKit
import ZeroMQ

/// Keys and an allow-list in a temporary folder, and a broker started with CURVE
/// on over them (protocol.md §7). Key pairs are written by `KeyFiles`, as
/// `metro keys generate` writes them (SecurityCLITests runs the command itself).
final class SecureFixture: @unchecked Sendable {
    let folder: TemporaryDirectory
    let broker: CurveKeyPair
    /// Identities on the allow-list, by name.
    private(set) var clients: [String: CurveKeyPair] = [:]
    /// The `permissions:` (YAML flow text) of identities that have them (protocol.md §7.3).
    var permissions: [String: String] = [:]

    init(clients names: [String]) throws {
        folder = try TemporaryDirectory()
        broker = try CurveKeyPair.generate()
        try KeyFiles.write(broker, name: "broker", directory: keysPath)
        for name in names { try add(name) }
    }

    var keysPath: String { folder.url.appendingPathComponent("keys").path }
    var allowListPath: String { folder.url.appendingPathComponent("allow-list.yaml").path }
    func secretKeyPath(_ name: String) -> String { keysPath + "/\(name).key" }
    func publicKeyPath(_ name: String) -> String { keysPath + "/\(name).pub" }

    /// Makes a key pair NAME (files in `keysPath`) without listing it.
    @discardableResult
    func makeKeys(_ name: String) throws -> CurveKeyPair {
        let keys = try CurveKeyPair.generate()
        try KeyFiles.write(keys, name: name, directory: keysPath)
        return keys
    }

    /// Makes a key pair NAME and rewrites the allow-list with it.
    @discardableResult
    func add(_ name: String, keys given: CurveKeyPair? = nil) throws -> CurveKeyPair {
        let keys = try given ?? makeKeys(name)
        clients[name] = keys
        try writeAllowList()
        return keys
    }

    func writeAllowList() throws {
        var text = "identities:\n"
        for (name, keys) in clients.sorted(by: { $0.key < $1.key }) {
            text += "  \(name):\n    publicKey: \"\(keys.publicKey)\"\n"
            if let p = permissions[name] { text += "    permissions: \(p)\n" }
        }
        try text.write(toFile: allowListPath, atomically: true, encoding: .utf8)
    }

    /// The credentials of client NAME for the broker.
    func credentials(_ name: String) -> CurveCredentials {
        CurveCredentials(keys: clients[name]!, serverPublicKey: broker.publicKey)
    }

    /// A broker with CURVE on, this fixture's key and allow-list.
    func startBroker() async throws -> BrokerHarness {
        try await BrokerHarness(arguments: [
            "--curve-secret-key", secretKeyPath("broker"), "--allow-list", allowListPath,
        ])
    }
}

/// Runs a python3 (with pyzmq) script and returns its stdout; throws its stderr
/// on a non-zero exit, or when it is still running after `timeout`.
func runPython(_ source: String, timeout: Duration = .seconds(60)) async throws -> String {
    guard let python = await DocumentedExample.python else {
        throw DocumentedExample.Failed(status: -1, stderr: "no python3 with pyzmq (apt-get install python3-zmq)")
    }
    let child = try ChildProcess(URL(fileURLWithPath: "/usr/bin/env"), [python, "-c", source])
    guard let status = await child.waitForExit(timeout: timeout) else {
        child.kill()
        throw DocumentedExample.Failed(status: -1, stderr: "still running after \(timeout):\n\(child.stderrText)")
    }
    guard status == 0 else { throw DocumentedExample.Failed(status: status, stderr: child.stderrText) }
    return child.stdoutText
}

/// The value of the sample `series` (`name` or `name{labels}`) in a Prometheus scrape, or nil.
func metricSample(_ series: String, in text: String) -> Double? {
    for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
        return Double(line.dropFirst(series.count + 1))
    }
    return nil
}

/// A scrape of `address`'s /metrics.
func scrapeMetrics(_ address: String) async throws -> String {
    try await httpGet(address, path: "/metrics")
}
