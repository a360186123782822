import MetroProtocol

/// One replay in progress on the consume socket (protocol.md §4.9): who asked,
/// where its cursor is, how much credit the client has granted, and when it ends.
///
/// Threading: owned by the broker's loop thread (in `BrokerEngine.replays`).
final class ReplaySession {
    /// A replay is named by the client's routing id and its replay id.
    struct Key: Hashable {
        var routingID: [UInt8]
        var id: [UInt8]
    }

    let key: Key
    let request: ReplayCodec.Request
    let cursor: JournalCursor
    /// Events the client still accepts (CREDIT adds, each EVENT takes one).
    var credit: UInt64
    /// An event read but not yet sent (the client's queue was full).
    var pending: LiveEvent?
    /// The client's queue was full on the last turn.
    var blocked = false
    /// When the replay last sent or got credit (broker clock, ns).
    var lastActivity: UInt64 = 0

    /// Events skipped by a `time` start are those stamped before this.
    var notBefore: UInt64 {
        if case .time(let t) = request.start { return t }
        return 0
    }

    init(key: Key, request: ReplayCodec.Request, cursor: JournalCursor) {
        self.key = key
        self.request = request
        self.cursor = cursor
        credit = UInt64(request.credit)
    }

    /// The last seq this replay covers, given the journal's head now.
    func limit(head: UInt64) -> UInt64 {
        request.toSeq == 0 ? head : min(request.toSeq, head)
    }

    /// Adds credit, saturating at `maxCredit`.
    func grant(_ n: UInt32) {
        credit = min(credit + UInt64(n), Self.maxCredit)
    }

    static let maxCredit: UInt64 = 1 << 32
}
