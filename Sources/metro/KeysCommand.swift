import ArgumentParser
import Foundation
import MetroSecurity
import ZeroMQ

/// `metro keys`: CURVE key pairs for `security.curve` (protocol.md §7).
/// `generate NAME` writes NAME.key (the secret, mode 0600) and NAME.pub (the public
/// key) and prints the allow-list entry for it; `list` shows the pairs in a folder.
struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys", abstract: "Make and list CURVE key pairs (protocol.md §7).",
        subcommands: [KeysGenerateCommand.self, KeysListCommand.self])

    /// The folder both subcommands use unless told: beside `metro up`'s data.
    static let defaultDirectory = "data/keys"
}

struct KeysGenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Write NAME.key (secret, mode 0600) and NAME.pub; never overwrites.")

    @Argument(help: "The key pair's name: letters, digits, '.', '_', '-' (the identity in an allow-list).")
    var name: String
    @Option(help: "The folder to write into (created, mode 0700, if missing).")
    var dir = KeysCommand.defaultDirectory

    func validate() throws {
        guard KeyFiles.isValidName(name) else {
            throw ValidationError("NAME has 1-64 letters, digits, '.', '_' or '-', and does not start with '.'")
        }
        guard Capability.curve.isAvailable else {
            throw ValidationError("this libzmq was built without CURVE (see `metro doctor`): no keys can be made")
        }
    }

    func run() throws {
        let keys = try CurveKeyPair.generate()
        let paths = try KeyFiles.write(keys, name: name, directory: dir)
        print("secret key: \(paths.secret) (mode 0600: give it only to \(name))")
        print("public key: \(paths.public)")
        print("allow-list entry:")
        print("  \(name):")
        print("    publicKey: \"\(keys.publicKey)\"")
    }
}

struct KeysListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List the key pairs in a folder: name, public key, whether the secret is here.")

    @Option(help: "The folder to list.")
    var dir = KeysCommand.defaultDirectory

    func run() throws {
        let entries = try KeyFiles.list(dir)
        if entries.isEmpty { print("no keys in \(dir)") }
        for entry in entries {
            let secret = entry.hasSecret ? "secret" : "public only"
            let problem = entry.problem.map { "  PROBLEM: \($0)" } ?? ""
            print(
                "\(entry.name.padding(toLength: 24, withPad: " ", startingAt: 0)) \(entry.publicKey ?? "-")  \(secret)\(problem)"
            )
        }
    }
}
