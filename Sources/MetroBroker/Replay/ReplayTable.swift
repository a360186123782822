/// The replays in progress on the consume socket (protocol.md §4.9), with how many
/// each connection runs, so that one client cannot take every slot: at most
/// `maxReplays` in all and `maxPerConnection` per routing id.
///
/// Why a per-connection limit: ROUTER tells the broker that a peer has gone only
/// when a send to it fails, and libzmq 4.3's socket monitor reports disconnections
/// without the routing id. A replay that takes no credit is never sent to, so the
/// replays of a client that disconnected stay until they idle out; the limit caps
/// what one such client (or a client that opens replays and never reads) holds.
///
/// Threading: owned by the broker's loop thread (`ReplayScheduler`).
struct ReplayTable {
    static let maxReplays = 4096
    static let maxPerConnection = 64

    private(set) var sessions: [ReplaySession.Key: ReplaySession] = [:]
    private var perConnection: [[UInt8]: Int] = [:]

    var isEmpty: Bool { sessions.isEmpty }
    var count: Int { sessions.count }
    var values: Dictionary<ReplaySession.Key, ReplaySession>.Values { sessions.values }

    /// Replays that `routingID` runs now.
    func count(of routingID: [UInt8]) -> Int { perConnection[routingID] ?? 0 }

    /// Why `key` cannot start now (nil: it can). A replay that replaces a running
    /// one of the same key takes no new slot.
    func refusal(for key: ReplaySession.Key) -> String? {
        if sessions[key] != nil { return nil }
        if sessions.count >= Self.maxReplays { return "too many replays in progress; retry later" }
        if count(of: key.routingID) >= Self.maxPerConnection {
            return "this connection runs \(Self.maxPerConnection) replays already; end one first"
        }
        return nil
    }

    subscript(key: ReplaySession.Key) -> ReplaySession? {
        get { sessions[key] }
        set {
            let had = sessions[key] != nil
            sessions[key] = newValue
            switch (had, newValue != nil) {
            case (false, true): perConnection[key.routingID, default: 0] += 1
            case (true, false):
                let n = (perConnection[key.routingID] ?? 1) - 1
                perConnection[key.routingID] = n > 0 ? n : nil
            default: break
            }
        }
    }
}
