import ArgumentParser
import Foundation
import MetroKit
import MetroSecurity
import ZeroMQ

/// `--keys DIR` and `--identity NAME`: how a `metro` process reaches a secure
/// system (protocol.md §7.10). DIR is the folder `metro keys generate` (or
/// `metro up --secure`) wrote: the process is NAME (`DIR/NAME.key`) and trusts
/// `DIR/broker.pub` and `DIR/registry.pub`. Services' rpc keys come from the
/// registry (each instance registers its own), so DIR needs no copy of them.
/// Without `--keys` (and without `METRO_KEYS` in the environment) everything
/// speaks plain ZMTP, as before.
struct ClientKeyOptions: ParsableArguments {
    @Option(
        name: .customLong("keys"),
        help: ArgumentHelp(
            "CURVE: the key folder of a secure system (its NAME.key, broker.pub, registry.pub); default $METRO_KEYS.",
            valueName: "dir"))
    var keysOption: String?

    @Option(help: "CURVE: which key of --keys is this process's identity (default: cli; a worker: its service).")
    var identity: String?

    /// The folder in force: the flag, else `METRO_KEYS`, else none (plain ZMTP).
    var keysDirectory: String? {
        if let keysOption { return keysOption }
        let env = ProcessInfo.processInfo.environment["METRO_KEYS"] ?? ""
        return env.isEmpty ? nil : env
    }

    /// The loaded keys; nil without a key folder. Throws, naming the file, when a
    /// key is missing, unsafe (a secret others may read) or not a key.
    func load(defaultIdentity: String = "cli") throws -> ClientKeys? {
        guard let directory = keysDirectory else { return nil }
        let identity = self.identity ?? defaultIdentity
        guard Capability.curve.isAvailable else { throw CurveSecurity.Unavailable() }
        let path = { (name: String) in (directory as NSString).appendingPathComponent(name) }
        return ClientKeys(
            directory: directory, identity: identity, keys: try KeyFiles.loadSecret(path("\(identity).key")),
            brokerPublicKey: try KeyFiles.loadPublic(path("broker.pub")),
            registryPublicKey: try KeyFiles.loadPublic(path("registry.pub")))
    }
}

/// A process's CURVE identity and the servers' public keys it trusts.
struct ClientKeys: Sendable {
    let directory: String
    let identity: String
    let keys: CurveKeyPair
    let brokerPublicKey: String
    let registryPublicKey: String

    var broker: CurveCredentials { CurveCredentials(keys: keys, serverPublicKey: brokerPublicKey) }
    var registry: CurveCredentials { CurveCredentials(keys: keys, serverPublicKey: registryPublicKey) }
    /// The allow-list a secure worker checks its rpc callers against by default.
    var allowList: String { (directory as NSString).appendingPathComponent("allow-list.yaml") }
}

extension Optional where Wrapped == ClientKeys {
    var broker: CurveCredentials? { self?.broker }
    var registry: CurveCredentials? { self?.registry }
}
