import Foundation
import Yams
public import ZeroMQ

/// The identities a CURVE server lets in (protocol.md §7.3): name → public key,
/// one YAML file that the broker and the registry read at start and again on
/// SIGHUP. A client whose key is listed gets in under its name (the ZAP user id);
/// every other handshake fails.
///
/// ```yaml
/// identities:
///   gateway:
///     publicKey: "<i1dS9X[(Q]nh.d)*-A-632XtR{uHB(fkhroHf%x"
/// ```
///
/// An identity may carry `permissions:` (`Permissions`, protocol.md §7.3): then it
/// may do only what they list. One without keeps all access, as before
/// permissions existed, so an older file means what it meant.
public struct AllowList: Sendable, Hashable {
    /// One client identity.
    public struct Identity: Sendable, Hashable {
        /// The identity's name: the ZAP user id (`User-Id`) its connections carry.
        public let name: String
        /// Its CURVE public key, 40 characters of Z85.
        public let publicKey: String
        /// What it may do; `.unrestricted` when the file gives no `permissions:`.
        public let permissions: Permissions

        public init(name: String, publicKey: String, permissions: Permissions = .unrestricted) {
            self.name = name
            self.publicKey = publicKey
            self.permissions = permissions
        }
    }

    /// Sorted by name.
    public let identities: [Identity]
    private let byKey: [String: String]
    private let byName: [String: Permissions]

    /// Checks the identities: valid names (`KeyFiles.isValidName`), valid keys, no
    /// name or key twice (one key under two names would make the user id a guess).
    public init(_ identities: [Identity], path: String = "allow-list") throws(SecurityError) {
        var byKey: [String: String] = [:]
        var byName: [String: Permissions] = [:]
        var names = Set<String>()
        for identity in identities {
            guard KeyFiles.isValidName(identity.name) else {
                throw Self.invalid(path, "identity name '\(identity.name)': 1-64 letters, digits, '.', '_' or '-'")
            }
            guard names.insert(identity.name).inserted else {
                throw Self.invalid(path, "identity '\(identity.name)' is listed twice")
            }
            guard CurveKeyPair.isKey(identity.publicKey) else {
                throw Self.invalid(path, "identity '\(identity.name)': publicKey is not a 40-character Z85 key")
            }
            if let other = byKey[identity.publicKey] {
                throw Self.invalid(path, "identities '\(other)' and '\(identity.name)' have the same publicKey")
            }
            byKey[identity.publicKey] = identity.name
            byName[identity.name] = identity.permissions
        }
        self.identities = identities.sorted { $0.name < $1.name }
        self.byKey = byKey
        self.byName = byName
    }

    /// What the identity `name` (a connection's user id) may do now: nothing when
    /// it is not on the list (it was removed since its handshake).
    public func permissions(of name: String) -> Permissions { byName[name] ?? .nothing }

    /// The name of the identity whose public key is `publicKey`, or nil.
    public func identity(forPublicKey publicKey: String) -> String? { byKey[publicKey] }

    /// Reads and checks the file at `path`.
    public static func load(_ path: String) throws(SecurityError) -> AllowList {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SecurityError(.unreadable, path: path, reason: "the allow-list does not exist or cannot be read")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw invalid(path, "the allow-list is not UTF-8")
        }
        return try parse(text, path: path)
    }

    /// Parses the YAML text of an allow-list (`path` only names it in errors).
    public static func parse(_ text: String, path: String = "allow-list") throws(SecurityError) -> AllowList {
        let root: Node?
        do { root = try Yams.compose(yaml: text) } catch { throw invalid(path, "not YAML: \(error)") }
        guard let top = root?.mapping else { throw invalid(path, "expected a mapping with the key 'identities'") }
        var identities: [Identity] = []
        for (key, value) in top {
            guard key.string == "identities" else {
                throw invalid(path, "unknown key '\(key.string ?? "?")' (only 'identities')")
            }
            if value.scalar?.string.isEmpty == true || value.string == "null" { continue }  // `identities:` alone
            guard let entries = value.mapping else { throw invalid(path, "'identities' must be a mapping") }
            for (nameNode, body) in entries {
                let name = nameNode.string ?? ""
                guard let fields = body.mapping else {
                    throw invalid(path, "identity '\(name)' must be a mapping with 'publicKey'")
                }
                var publicKey: String?
                var permissions = Permissions.unrestricted
                for (field, fieldValue) in fields {
                    switch field.string {
                    case "publicKey": publicKey = fieldValue.string
                    case "permissions":
                        do throws(PermissionsError) {
                            permissions = try Permissions.parse(fieldValue, identity: name)
                        } catch {
                            throw invalid(path, error.reason)
                        }
                    default:
                        throw invalid(path, "identity '\(name)': unknown key '\(field.string ?? "?")'")
                    }
                }
                guard let publicKey else { throw invalid(path, "identity '\(name)' has no 'publicKey'") }
                identities.append(Identity(name: name, publicKey: publicKey, permissions: permissions))
            }
        }
        return try AllowList(identities, path: path)
    }

    private static func invalid(_ path: String, _ reason: String) -> SecurityError {
        SecurityError(.invalidAllowList, path: path, reason: reason)
    }
}
