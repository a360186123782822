/// The commands of the registry socket (protocol.md §5.3). The raw value is the
/// command frame, upper-case ASCII.
package enum RegistryCommand: String, Sendable, CaseIterable {
    case register = "REGISTER"
    case heartbeat = "HEARTBEAT"
    case deregister = "DEREGISTER"
    case lookup = "LOOKUP"
    case list = "LIST"
    case stats = "STATS"

    /// The command frame as it travels.
    package var frame: [UInt8] { Array(rawValue.utf8) }

    /// The number of frames a request of this command has, version and command included.
    package var frameCount: Int {
        switch self {
        case .list, .stats: 2
        case .register, .heartbeat, .deregister, .lookup: 3
        }
    }
}

/// The reply words of the registry socket (protocol.md §5.3).
package enum RegistryReplyWord: String, Sendable {
    case ok = "OK"
    case error = "ERROR"

    package var frame: [UInt8] { Array(rawValue.utf8) }
}
