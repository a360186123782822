/// The command and reply words of the rpc socket (protocol.md §6.1). The raw value
/// is the frame, upper-case ASCII.
public enum RpcCommand: String, Sendable, CaseIterable {
    /// C → S: a call.
    case request = "REQUEST"
    /// S → C: a call's result.
    case reply = "REPLY"
    /// S → C: a call's (or a message's) failure, §3.1.
    case error = "ERROR"

    public var frame: [UInt8] { Array(rawValue.utf8) }
}
