import MetroProtocol

/// The delivery state of one durable consumer group (protocol.md §4.10), as a pure
/// value with an injected clock: every mutating method takes `now` (ns) and returns
/// the actions the broker must carry out. It never touches a socket or a file.
///
/// - `position`: every journal seq ≤ position has been taken by the group (offered
///   by the engine if it matched the prefixes). The engine reads on from position+1.
/// - `pending`: events taken but not yet ACKed, each either held by a member (with an
///   ACK deadline) or waiting in `ready` (new, NAKed, timed out, or its member lost).
/// - Each delivery consumes one credit of its member; members grant more.
/// - An event whose `maxDeliveries`-th delivery fails (ACK timeout, NAK, member
///   lost) is dead-lettered instead of delivered again; a REJECT dead-letters it at
///   once, whatever its count.
///
/// Threading: a value owned by the broker's loop thread.
struct ConsumerGroup: Equatable {
    typealias MemberKey = [UInt8]

    struct Config: Equatable, Sendable {
        var prefixes: [[UInt8]]
        var ackTimeoutNs: UInt64
        var maxDeliveries: Int
    }

    struct Member: Equatable {
        var name: String
        var credit: UInt64
        var lastSeen: UInt64
        var held: Set<UInt64> = []
        /// The member's packed delivery (JOIN's `batchBytes`, §4.10.2): the most record
        /// bytes per DELIVER-PACKED; nil for one DELIVER per event.
        var batchBytes: Int? = nil
    }

    struct Pending: Equatable {
        var deliveries: Int
        var member: MemberKey?
        /// ACK deadline while held; earliest redelivery while waiting (NAK delay).
        var deadline: UInt64
    }

    enum Action: Equatable {
        case deliver(seq: UInt64, to: MemberKey, attempt: Int)
        /// `detail`: the member's own words, for a REJECT (the dead letter's `detail` header).
        case deadLetter(seq: UInt64, reason: String, deliveries: Int, detail: String? = nil)
        case memberLost(MemberKey, name: String)
    }

    let name: String
    let config: Config
    /// Members are lost after this long without a heartbeat or any command.
    let memberTimeoutNs: UInt64
    private(set) var position: UInt64
    private(set) var pending: [UInt64: Pending] = [:]
    private(set) var members: [MemberKey: Member] = [:]
    /// Seqs waiting for a member, in seq order (delivered oldest first).
    private(set) var ready = ReadySeqs()
    private(set) var redelivered: UInt64 = 0
    private(set) var deadLettered: UInt64 = 0
    /// Events retention removed before the group had them ACKed: seqs it skipped
    /// unread (every topic: an upper bound) plus pending events whose records were
    /// gone when they were to be delivered again (protocol.md §4.10, "Retention").
    private(set) var expired: UInt64 = 0
    private var rotation = 0
    /// No held event's ACK deadline is before this (it may be later: the event that
    /// set it may have been ACKed since). `tick` walks the pending set only once it
    /// has passed, and sets it afresh from what it sees: one `min` per delivery
    /// instead of a walk every 20 ms (a heap insert per delivery cost more; see
    /// performance.md, "Consumer groups").
    private var earliestDeadline = UInt64.max

    /// The most credit a member holds: the largest u32, what one JOIN or GRANT carries.
    static let maxCredit = UInt64(UInt32.max)

    init(name: String, config: Config, position: UInt64, pending: [UInt64: Int] = [:], memberTimeoutNs: UInt64) {
        self.name = name
        self.config = config
        self.position = position
        self.memberTimeoutNs = memberTimeoutNs
        for (seq, deliveries) in pending.sorted(by: { $0.key < $1.key }) {
            self.pending[seq] = Pending(deliveries: deliveries, member: nil, deadline: 0)
            ready.insert(seq)
        }
    }

    /// Credit not yet covered by waiting events: the engine offers that many more.
    var wantsEvents: Int {
        let credit = members.values.reduce(0) { $0 + $1.credit }
        return max(0, Int(min(credit, 1 << 20)) - ready.count)
    }

    /// The durable part: position and pending seqs with their delivery counts.
    var durableState: (position: UInt64, pending: [UInt64: Int]) {
        (position, pending.mapValues(\.deliveries))
    }

    mutating func join(
        _ key: MemberKey, name: String, credit: UInt32, batchBytes: Int? = nil, now: UInt64
    ) -> [Action] {
        var actions: [Action] = []
        if members[key] != nil { actions += release(key, now: now) }
        members[key] = Member(name: name, credit: UInt64(credit), lastSeen: now, batchBytes: batchBytes)
        return actions + dispatch(now: now)
    }

    mutating func grant(_ key: MemberKey, credit: UInt32, now: UInt64) -> [Action]? {
        guard members[key] != nil else { return nil }
        members[key]!.credit = min(members[key]!.credit + UInt64(credit), Self.maxCredit)
        members[key]!.lastSeen = now
        return dispatch(now: now)
    }

    /// Notes a member's heartbeat; false if it is not a member.
    mutating func heartbeat(_ key: MemberKey, now: UInt64) -> Bool {
        guard members[key] != nil else { return false }
        members[key]!.lastSeen = now
        return true
    }

    mutating func leave(_ key: MemberKey, now: UInt64) -> [Action] {
        guard members[key] != nil else { return [] }
        let actions = release(key, now: now)
        members[key] = nil
        return actions + dispatch(now: now)
    }

    enum CommandError: Error, Equatable { case notMember, unknownDelivery }

    mutating func ack(_ key: MemberKey, seq: UInt64, now: UInt64) throws(CommandError) -> [Action] {
        try checkHeld(key, seq, now: now)
        pending[seq] = nil
        members[key]!.held.remove(seq)
        return dispatch(now: now)
    }

    /// ACKS (§4.10.2): ends every seq of `seqs` this member holds and grants `credit`,
    /// with one dispatch for all. The seqs it does not hold come back in `unknown`
    /// (the broker answers them with one 203); the others are ACKed all the same.
    mutating func acks(
        _ key: MemberKey, seqs: [UInt64], credit: UInt32, now: UInt64
    ) throws(CommandError) -> (actions: [Action], unknown: [UInt64]) {
        guard members[key] != nil else { throw .notMember }
        var unknown: [UInt64] = []
        for seq in seqs {
            if let p = pending[seq], p.member == key {
                pending[seq] = nil
                members[key]!.held.remove(seq)
            } else {
                unknown.append(seq)
            }
        }
        members[key]!.credit = min(members[key]!.credit + UInt64(credit), Self.maxCredit)
        members[key]!.lastSeen = now
        return (dispatch(now: now), unknown)
    }

    /// Gives the event back: redelivered after `delayNs` (0: at once), or dead-lettered
    /// if this was its last allowed delivery.
    mutating func nak(_ key: MemberKey, seq: UInt64, delayNs: UInt64, now: UInt64) throws(CommandError) -> [Action] {
        try checkHeld(key, seq, now: now)
        members[key]!.held.remove(seq)
        return requeue(seq, reason: "nak", notBefore: now &+ delayNs) + dispatch(now: now)
    }

    /// Ends a held event now on the dead-letter topic (REJECT, §4.10): the member says
    /// no delivery will ever succeed, so it is neither redelivered nor left pending.
    mutating func reject(_ key: MemberKey, seq: UInt64, detail: String, now: UInt64) throws(CommandError) -> [Action] {
        try checkHeld(key, seq, now: now)
        members[key]!.held.remove(seq)
        let deliveries = pending.removeValue(forKey: seq)!.deliveries
        deadLettered &+= 1
        return [.deadLetter(seq: seq, reason: "rejected", deliveries: deliveries, detail: detail)] + dispatch(now: now)
    }

    /// Moves the ACK deadline of a held event to `now + byNs` (slow work).
    mutating func extend(_ key: MemberKey, seq: UInt64, byNs: UInt64, now: UInt64) throws(CommandError) {
        try checkHeld(key, seq, now: now)
        pending[seq]!.deadline = now &+ byNs
        earliestDeadline = min(earliestDeadline, now &+ byNs)
    }

    /// A new event from the journal: `seq` > position; `matches` says whether its
    /// topic matches the group's prefixes. The position advances either way.
    mutating func offer(seq: UInt64, matches: Bool, now: UInt64) -> [Action] {
        take(seq: seq, matches: matches)
        return dispatch(now: now)
    }

    /// `offer` without handing anything out: the engine takes a slice of the journal
    /// this way and then calls `deliverReady` once, so that members are chosen once
    /// per slice rather than once per event.
    mutating func take(seq: UInt64, matches: Bool) {
        guard seq > position else { return }
        position = seq
        guard matches else { return }
        pending[seq] = Pending(deliveries: 0, member: nil, deadline: 0)
        ready.insert(seq)
    }

    /// Hands the waiting events to members with credit (after `take`).
    mutating func deliverReady(now: UInt64) -> [Action] { dispatch(now: now) }

    /// A delivery of `seq` found its record gone from the journal (retention): the
    /// delivery did not happen (its member gets the credit back, and it is no
    /// redelivery), and the event is dropped, counted as expired.
    mutating func forget(seq: UInt64) {
        guard let p = pending[seq] else { return }
        if let m = p.member, members[m] != nil {
            members[m]!.held.remove(seq)
            members[m]!.credit = min(members[m]!.credit + 1, Self.maxCredit)
        }
        if p.deliveries > 1 { redelivered &-= 1 }
        pending[seq] = nil
        ready.remove(seq)
        expired &+= 1
    }

    /// Retention removed the seqs `first ..< earliest` before the group read them:
    /// the position moves past them, and they count as expired (not dead-lettered:
    /// there is no event left to put on the dead-letter topic).
    mutating func expire(first: UInt64, earliest: UInt64) {
        let from = max(first, position + 1)
        guard earliest > from else { return }
        expired &+= earliest - from
        position = earliest - 1
    }

    /// Moves the position past seqs the journal has nothing for (the engine read to `seq`).
    mutating func advance(to seq: UInt64) { position = max(position, seq) }

    /// The member's connection closed (the engine saw it through the socket
    /// monitor, §4.10): it is lost now, and what it held goes to the others.
    mutating func lose(_ key: MemberKey, now: UInt64) -> [Action] {
        drop(key, now: now) + dispatch(now: now)
    }

    /// ACK timeouts, lost members, NAK delays that have run out.
    mutating func tick(now: UInt64) -> [Action] {
        var actions: [Action] = []
        for (key, m) in members where now > m.lastSeen && now - m.lastSeen > memberTimeoutNs {
            actions += drop(key, now: now)
        }
        if now >= earliestDeadline {
            var next = UInt64.max
            for (seq, p) in pending where p.member != nil {
                guard now >= p.deadline else {
                    next = min(next, p.deadline)
                    continue
                }
                members[p.member!]?.held.remove(seq)
                actions += requeue(seq, reason: "ack-timeout", notBefore: now)
            }
            earliestDeadline = next
        }
        return actions + dispatch(now: now)
    }

    // MARK: - Inside

    private mutating func checkHeld(_ key: MemberKey, _ seq: UInt64, now: UInt64) throws(CommandError) {
        guard members[key] != nil else { throw .notMember }
        members[key]!.lastSeen = now
        guard let p = pending[seq], p.member == key else { throw .unknownDelivery }
    }

    /// Removes a lost member; its events go back to the queue (no dispatch).
    private mutating func drop(_ key: MemberKey, now: UInt64) -> [Action] {
        guard let m = members[key] else { return [] }
        let actions = [Action.memberLost(key, name: m.name)] + release(key, now: now)
        members[key] = nil
        return actions
    }

    /// Returns a lost or leaving member's events to the queue.
    private mutating func release(_ key: MemberKey, now: UInt64) -> [Action] {
        guard let m = members[key] else { return [] }
        members[key]!.held = []
        return m.held.sorted().flatMap { requeue($0, reason: "member-lost", notBefore: now) }
    }

    private mutating func requeue(_ seq: UInt64, reason: String, notBefore: UInt64) -> [Action] {
        guard var p = pending[seq] else { return [] }
        if p.deliveries >= config.maxDeliveries {
            pending[seq] = nil
            ready.remove(seq)
            deadLettered &+= 1
            return [.deadLetter(seq: seq, reason: reason, deliveries: p.deliveries)]
        }
        p.member = nil
        p.deadline = notBefore
        pending[seq] = p
        ready.insert(seq)
        return []
    }

    /// Events a packed member takes in one turn of the round robin (within its
    /// credit): whole runs keep its DELIVER-PACKED bodies large however many
    /// members share the group (one event per turn cut them to the slice ÷ members).
    static let packedRun = 256

    /// Hands waiting events, oldest first, to members with credit, in turn: one
    /// event per turn to a per-event member, a run of up to `packedRun` to a packed one.
    private mutating func dispatch(now: UInt64) -> [Action] {
        guard !ready.isEmpty else { return [] }
        var keys = members.filter { $0.value.credit > 0 }.keys.sorted { $0.lexicographicallyPrecedes($1) }
        guard !keys.isEmpty else { return [] }
        var actions: [Action] = []
        var handed = 0
        var inTurn = 0  // events handed to keys[rotation] in its current turn
        for seq in ready where pending[seq]!.deadline <= now {
            guard !keys.isEmpty else { break }
            if inTurn == 0 { rotation = (rotation + 1) % keys.count }
            let key = keys[rotation]
            var p = pending[seq]!
            p.deliveries += 1
            p.member = key
            p.deadline = now &+ config.ackTimeoutNs
            earliestDeadline = min(earliestDeadline, p.deadline)
            pending[seq] = p
            handed += 1
            inTurn += 1
            if p.deliveries > 1 { redelivered &+= 1 }
            members[key]!.credit -= 1
            members[key]!.held.insert(seq)
            if members[key]!.credit == 0 {
                keys.remove(at: rotation)
                // The next turn goes to the member that moved into this place.
                rotation = keys.isEmpty ? 0 : (rotation + keys.count - 1) % keys.count
                inTurn = 0
            } else if inTurn >= (members[key]!.batchBytes == nil ? 1 : Self.packedRun) {
                inTurn = 0
            }
            actions.append(.deliver(seq: seq, to: key, attempt: p.deliveries))
        }
        // A handed-out seq is held by its member now, no longer waiting.
        if handed > 0 { ready.removeAll { pending[$0]?.member != nil } }
        return actions
    }
}
