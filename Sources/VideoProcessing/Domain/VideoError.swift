/// Why a video operation was refused. The service maps `kind` to one rpc code in
/// one place (invalid → 403 bad-request, notFound → 404, conflict → 405); the
/// event handler turns them into dead-letter rejections.
public struct VideoError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Kind: Hashable, Sendable {
        /// A field breaks its rule (`message` names the field).
        case invalid
        /// The video or upload does not exist.
        case notFound
        /// The request contradicts stored state (a chunk whose bytes differ, a finish before all bytes).
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
}
