import MetroProtocol
import ZeroMQ

/// One replay in progress on the consume socket (protocol.md §4.9): who asked,
/// where its cursor is, how much credit the client has granted, and when it ends.
///
/// A replay that cannot send holds no descriptor and no read chunk (its cursor is
/// released): without credit it also holds no event (`parked`: the cursor stands
/// at the matching event, read again when credit comes), and at a full client
/// queue it holds the one event it could not send (`pending`, at most
/// `limits.maxPayloadBytes` + its topic and headers), or in the packed form the
/// one frame (`pendingFrame`, at most `batchBytes`, or one larger event).
///
/// Threading: owned by the broker's loop thread (in `ReplayScheduler`).
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
    /// Packed form (§4.9.2): the most record bytes per EVENT-PACKED frame; nil for
    /// the per-event form.
    let batchBytes: Int?
    /// Packed form: a frame built but not yet sent (the client's queue was full).
    /// Sent before anything else.
    var pendingFrame: PackedFrame?
    /// The client's queue was full on the last turn.
    var blocked = false
    /// The cursor stands at a matching event the replay had no credit for: the
    /// loop leaves it alone until CREDIT comes.
    var parked = false
    /// The message that ends the replay (CAUGHT-UP or ERROR), decided but not yet
    /// sent because the client's queue was full; sent before anything else.
    var ending: ReplayCodec.Reply?
    /// When the replay last sent or got credit (broker clock, ns).
    var lastActivity: UInt64 = 0
    /// The identity (ZAP user id) that started it, with CURVE on: an allow-list
    /// reload that takes its replay permission away ends it (protocol.md §7.7).
    var identity: String?

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
        batchBytes = request.batchBytes
    }

    /// Parked without credit: the loop leaves it alone until CREDIT comes.
    var waitsForCredit: Bool { parked && credit == 0 && ending == nil }
    /// Whether the loop has something to do for this replay now (else it may wait in poll).
    var hasWork: Bool { !blocked && !waitsForCredit }

    /// The last seq this replay covers, given the journal's head now.
    func limit(head: UInt64) -> UInt64 {
        request.toSeq == 0 ? head : min(request.toSeq, head)
    }

    /// Adds credit, saturating at `maxCredit`.
    func grant(_ n: UInt32) {
        credit = min(credit + UInt64(n), Self.maxCredit)
    }

    /// The most credit a replay holds: the largest u32, what one REPLAY or CREDIT
    /// can carry (protocol.md §4.9).
    static let maxCredit = UInt64(UInt32.max)
}

/// An EVENT-PACKED's records frame, ready to send, and how many events it holds
/// (the credit it takes once queued).
struct PackedFrame: ~Copyable {
    var message: Message
    let events: Int
}
