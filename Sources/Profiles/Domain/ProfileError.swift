/// Why a profiles operation was refused. The service maps `kind` to one rpc
/// code (invalid → 403 bad-request, notFound → 404, conflict → 405) in one place;
/// `message` is for the caller and names the field or the reason.
public struct ProfileError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Kind: Hashable, Sendable {
        /// A field breaks its rule (`message` names the field).
        case invalid
        /// The user (or the entity asked for) does not exist.
        case notFound
        /// A stale `version`, or an email another user has.
        case conflict
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { "\(kind): \(message)" }

    static func invalid(_ field: String, _ reason: String) -> Self { Self(.invalid, "\(field): \(reason)") }
    static func notFound(user id: String) -> Self { Self(.notFound, "no user \(id)") }
}
