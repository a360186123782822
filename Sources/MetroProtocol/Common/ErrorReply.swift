/// The one encoder of an ERROR reply, for every socket (protocol.md §3.1):
///
/// ```
/// ["metro/1"] ["ERROR"] [code: 3 ASCII digits] [message] [context]*
/// ```
///
/// The broker's ingest and consume sockets and the registry all answer with it,
/// so an ERROR has one layout whoever sends it.
package enum ErrorReply {
    /// The reply word of an ERROR.
    package static let command: [UInt8] = Array("ERROR".utf8)

    /// The frames of an ERROR carrying `error`, then `context` (the id it answers, §3.1).
    package static func frames(_ error: WireError, context: [[UInt8]] = []) -> [[UInt8]] {
        [WireProtocol.versionBytes, command, error.code.frame, Array(error.message.utf8)] + context
    }
}
