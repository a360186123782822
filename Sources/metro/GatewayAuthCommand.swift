import ArgumentParser
import Foundation
import MetroGateway

/// `metro gateway-auth`: the gateway's HS256 secret and its bearer tokens
/// (docs/gateway-auth.md). `secret PATH` writes a new secret (mode 0600, never
/// overwrites) for `metro gateway --auth-secret-file PATH`; `token` mints a token
/// for a user or an operator with that secret.
struct GatewayAuthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gateway-auth", abstract: "Make the gateway's token secret and mint its bearer tokens.",
        subcommands: [GatewaySecretCommand.self, GatewayTokenCommand.self])
}

struct GatewaySecretCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "secret", abstract: "Write a new HS256 secret (32 random bytes, hex, mode 0600); never overwrites."
    )

    @Argument(help: "Where to write it (its folder must exist).")
    var path: String

    func run() throws {
        try GatewaySecret.generate(at: path)
        print("secret: \(path) (mode 0600: whoever reads it can mint any token)")
    }
}

struct GatewayTokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token", abstract: "Print a bearer token (HS256 JWT: sub, role, exp, iat) signed with the secret.")

    @Option(help: "The user id (`sub`): a profile id for a user, any name for an operator.")
    var user: String
    @Option(help: "user (own profile, history, views, uploads) or operator (everything, any user).")
    var role = Role.user.rawValue
    @Option(help: "How long it is valid: a number with s, m, h or d (e.g. 90s, 15m, 1h, 7d).")
    var ttl = "1h"
    @Option(help: "The secret file (`metro gateway-auth secret`).")
    var secretFile: String

    func validate() throws {
        guard Role(rawValue: role) != nil else { throw ValidationError("--role is user or operator") }
        guard Self.seconds(ttl) != nil else { throw ValidationError("--ttl is a positive number with s, m, h or d") }
        guard !user.isEmpty, user.utf8.count <= 128, !user.contains(where: { $0.isWhitespace }) else {
            throw ValidationError("--user is 1-128 bytes without white space")
        }
    }

    func run() async throws {
        let secret = try GatewaySecret.load(secretFile)
        print(
            try await GatewayTokens.mint(
                secret: secret, subject: user, role: Role(rawValue: role)!, ttl: .seconds(Self.seconds(ttl)!)))
    }

    /// `90s`, `15m`, `1h`, `7d` in seconds; nil when it is none of these or not positive.
    static func seconds(_ text: String) -> Int? {
        guard let unit = text.last, let n = Int(text.dropLast()), n > 0 else { return nil }
        switch unit {
        case "s": return n
        case "m": return n * 60
        case "h": return n * 3600
        case "d": return n * 86400
        default: return nil
        }
    }
}
