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
/// Each identity is a mapping, not a bare key, so that per-identity permissions
/// (issue 19 §4) can be added as further keys of it. Until they are enforced, any
/// key other than `publicKey` is refused: a file that says `permissions:` must not
/// load as if it restricted anything.
public struct AllowList: Sendable, Hashable {
    /// One client identity.
    public struct Identity: Sendable, Hashable {
        /// The identity's name: the ZAP user id (`User-Id`) its connections carry.
        public let name: String
        /// Its CURVE public key, 40 characters of Z85.
        public let publicKey: String

        public init(name: String, publicKey: String) {
            self.name = name
            self.publicKey = publicKey
        }
    }

    /// Sorted by name.
    public let identities: [Identity]
    private let byKey: [String: String]

    /// Checks the identities: valid names (`KeyFiles.isValidName`), valid keys, no
    /// name or key twice (one key under two names would make the user id a guess).
    public init(_ identities: [Identity], path: String = "allow-list") throws(SecurityError) {
        var byKey: [String: String] = [:]
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
        }
        self.identities = identities.sorted { $0.name < $1.name }
        self.byKey = byKey
    }

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
                for (field, fieldValue) in fields {
                    switch field.string {
                    case "publicKey": publicKey = fieldValue.string
                    case "permissions":
                        throw invalid(
                            path,
                            "identity '\(name)': 'permissions' is not enforced by this version; remove it "
                                + "(every listed identity may use every socket)")
                    default:
                        throw invalid(path, "identity '\(name)': unknown key '\(field.string ?? "?")'")
                    }
                }
                guard let publicKey else { throw invalid(path, "identity '\(name)' has no 'publicKey'") }
                identities.append(Identity(name: name, publicKey: publicKey))
            }
        }
        return try AllowList(identities, path: path)
    }

    private static func invalid(_ path: String, _ reason: String) -> SecurityError {
        SecurityError(.invalidAllowList, path: path, reason: reason)
    }
}
