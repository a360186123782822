/// The one error type of `MetroSecurity`: a key file or an allow-list that cannot
/// be used, with the file and the reason, worded for the operator who has to fix it.
public struct SecurityError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of problem, to switch on.
    public enum Code: Hashable, Sendable {
        /// The file is missing or unreadable.
        case unreadable
        /// A secret key file that group or others may read (or that is not a regular file).
        case unsafePermissions
        /// A key file that does not hold one Z85 key.
        case malformedKey
        /// A key file that already exists (`keys generate` never overwrites).
        case exists
        /// An allow-list that does not follow its format (protocol.md §7.3).
        case invalidAllowList
        /// Writing a file failed.
        case unwritable
    }

    public let code: Code
    /// The file concerned.
    public let path: String
    public let reason: String

    public init(_ code: Code, path: String, reason: String) {
        self.code = code
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(path): \(reason)" }
}
