import Foundation
import Logging
import MetroGateway
import MetroSecurity
import ZeroMQ

/// The key folder of `metro up --secure` (protocol.md §7.10): one CURVE key pair
/// per identity of the system, and the allow-list every server of it checks.
///
/// Identities: `broker` and `registry` (servers; the registry is also a client
/// of the broker), `gateway`, one per service (`profiles`, `video`,
/// `recommendations`, shared by the service's instances), and `cli`, the
/// operator's key that `metro publish/tail/services --keys` and `metro up`'s own
/// registry client use. Missing pairs are generated; existing ones are kept, so a
/// restart keeps its identities. The allow-list is written only when absent: an
/// operator's edits to it survive restarts (a key generated later must then be
/// added by hand; `prepare` logs which).
enum SecureSystem {
    static let clients = ["registry", "gateway", "cli"] + SystemFile.serviceNames
    static let allowListName = "allow-list.yaml"

    struct Folder {
        let directory: String
        func path(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }
        var allowList: String { path(SecureSystem.allowListName) }
        /// The HS256 secret the gateway verifies bearer tokens with (docs/gateway-auth.md).
        var gatewaySecret: String { path(SecureSystem.gatewaySecretName) }
    }
    static let gatewaySecretName = "gateway-auth.secret"

    static func prepare(directory: String, logger: Logger) throws -> Folder {
        guard Capability.curve.isAvailable else { throw CurveSecurity.Unavailable() }
        let folder = Folder(directory: directory)
        var made: [String] = []
        var publicKeys: [(name: String, key: String)] = []
        for name in ["broker"] + clients {
            if !FileManager.default.fileExists(atPath: folder.path("\(name).key")) {
                try KeyFiles.write(try CurveKeyPair.generate(), name: name, directory: directory)
                made.append(name)
            }
            // Loading checks the mode (0600) of what was there before.
            publicKeys.append((name, try KeyFiles.loadSecret(folder.path("\(name).key")).publicKey))
        }
        if !made.isEmpty {
            logger.notice("generated CURVE keys", metadata: ["dir": "\(directory)", "names": "\(made)"])
        }
        // The gateway's HTTP side: bearer tokens signed with this secret (mode 0600).
        if !FileManager.default.fileExists(atPath: folder.gatewaySecret) {
            try GatewaySecret.generate(at: folder.gatewaySecret)
            logger.notice("generated the gateway's token secret", metadata: ["path": "\(folder.gatewaySecret)"])
        }
        if !FileManager.default.fileExists(atPath: folder.allowList) {
            let text = allowListText(publicKeys.filter { $0.name != "broker" })
            try Data(text.utf8).write(to: URL(fileURLWithPath: folder.allowList), options: .withoutOverwriting)
            logger.notice("wrote the allow-list", metadata: ["path": "\(folder.allowList)"])
        } else if !made.isEmpty {
            logger.warning(
                "kept the existing allow-list; add the new keys to it if they should get in",
                metadata: ["path": "\(folder.allowList)", "new": "\(made.filter { $0 != "broker" })"])
        }
        return folder
    }

    /// What each identity of the system needs and no more (protocol.md §7.8): the
    /// topics it publishes, the groups' topics it consumes, the service it
    /// registers, the rpc methods it calls. The registry publishes `$registry.*` by
    /// its name alone; the gateway follows membership events (subscribe and replay
    /// `$registry.`), publishes views and calls the three services' methods (the
    /// only identity that does: the others say `call: []`, since a missing `call`
    /// means every method); `cli`, the operator's key, is listed without
    /// permissions (all access), since `metro up` itself and the operator's tools use it.
    static let permissions: [String: String] = [
        "registry": "{call: []}",
        "gateway":
            #"{publish: ["video.watched"], subscribe: ["$registry."], replay: ["$registry."], call: ["profile.", "video.", "recommendations."]}"#,
        "profiles": #"{publish: ["profile."], consume: ["video.watched"], register: ["profiles"], call: []}"#,
        "video":
            #"{publish: ["video.uploaded", "video.processed", "video.failed"], consume: ["video.uploaded", "$metro.dead.video-processing"], register: ["video"], call: []}"#,
        "recommendations":
            #"{consume: ["video.processed", "video.watched", "profile."], register: ["recommendations"], call: []}"#,
    ]

    /// The allow-list of a fresh secure system: every client identity by name, with its permissions.
    static func allowListText(_ identities: [(name: String, key: String)]) -> String {
        var text = """
            # Written by `metro up --secure` (protocol.md §7.3, §7.8). Each identity is a key
            # pair in this folder; edit freely (this file is not rewritten while it exists)
            # and `kill -HUP` the broker, the registry and the workers to reload it.
            identities:

            """
        for (name, key) in identities {
            text += "  \(name):\n    publicKey: \"\(key)\"\n"
            if let permissions = permissions[name] { text += "    permissions: \(permissions)\n" }
        }
        return text
    }
}
