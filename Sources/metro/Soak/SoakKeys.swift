import Foundation
import MetroGateway
import MetroSecurity
import MetroSoak
import ZeroMQ

/// A secure system's key folder read for `metro soak --secure` (or `--attach
/// --keys`): the operator's key pair (`cli.key`, all access on the allow-list
/// `metro up --secure` writes), the broker's and the registry's public keys,
/// and, when the folder holds the gateway's token secret, an operator token
/// for the soak's HTTP requests (subject `metro-soak`).
enum SoakKeys {
    static func load(folder: String, tokenLifetime: Duration) async throws -> SoakSecurity {
        let path = { (name: String) in (folder as NSString).appendingPathComponent(name) }
        guard Capability.curve.isAvailable else { throw CurveSecurity.Unavailable() }
        let secretPath = path(SecureSystem.gatewaySecretName)
        var token: String?
        if FileManager.default.fileExists(atPath: secretPath) {
            token = try await GatewayTokens.mint(
                secret: try GatewaySecret.load(secretPath), subject: "metro-soak", role: .operator, ttl: tokenLifetime)
        }
        return SoakSecurity(
            keys: try KeyFiles.loadSecret(path("cli.key")),
            brokerPublicKey: try KeyFiles.loadPublic(path("broker.pub")),
            registryPublicKey: try KeyFiles.loadPublic(path("registry.pub")), bearerToken: token)
    }
}
