import MetroProtocol

/// What a gap-filling `Subscriber` counts (its delivery ledger): loss is never silent.
public struct DeliveryLedger: Sendable, Equatable {
    /// Replays started to check a seq jump or a silence (a heartbeat's head seq past
    /// what was seen). With prefix filters a jump is often only other topics' seqs.
    public var gapsSuspected: UInt64 = 0
    /// Of those, replays that found events the live stream had not delivered.
    /// The catch-up from `startAt` is not a gap and is not counted here.
    public var gapsFilled: UInt64 = 0
    /// Events delivered from replay (catch-up at start included).
    public var recovered: UInt64 = 0
    /// Of those, the events the catch-up from `startAt` delivered.
    public var caughtUp: UInt64 = 0
    /// Whether the catch-up from `startAt` has reached the live stream (true
    /// at once without `startAt`).
    public var catchUpDone = false
    /// Events received twice (live and replayed) and delivered once.
    public var duplicatesDropped: UInt64 = 0
    /// Ranges the journal no longer held when they were replayed (error 204).
    public var lostRanges: UInt64 = 0
    /// Seqs in those ranges, of every topic: an upper bound on the events lost.
    public var lostSeqs: UInt64 = 0
    /// Journal records a replay could not read because their bytes on the broker's
    /// disk are damaged (error 206): each was skipped, one seq each (its topic is
    /// unknown, so it may not even be one of ours). The broker's log names them.
    public var damagedRecords: UInt64 = 0
    /// All counters at zero.
    public init() {}
}

/// The gap-filling logic of a `Subscriber` as a pure value (protocol.md §4.4, §4.9,
/// in the packed form of §4.9.2):
/// it takes live events, heartbeats and replay messages, and answers with the
/// events to hand to the application, in seq order and without duplicates, and
/// the replay requests to send. Everything ≤ `verified` has been delivered, or is
/// counted as lost; live events are held while a replay runs.
///
/// Threading: a value owned by the subscriber's I/O thread.
struct GapFiller {
    enum Action: Equatable {
        case deliver(LiveEvent)
        case send([[UInt8]])
        /// A loss the application's log must show too (the ledger counts it).
        case warn(String)
    }

    struct Fill {
        var id: [UInt8]
        var from: UInt64
        var received: UInt32 = 0
        var foundNew = false
        /// Part of the catch-up from `startAt` the caller asked for, not a gap.
        var catchUp = false
        /// The highest seq this replay has sent (0: none yet).
        var lastSeq: UInt64 = 0
        var lastHeard: UInt64
    }

    let prefixes: [[UInt8]]
    let window: UInt32
    let bufferLimit: Int
    /// A replay silent for this long (ns) is asked again (the broker may have restarted).
    let fillTimeoutNs: UInt64 = 5_000_000_000
    private(set) var ledger = DeliveryLedger()
    private(set) var started = false
    private(set) var delivered: UInt64 = 0
    private(set) var verified: UInt64 = 0
    private(set) var fill: Fill?
    private var held: [LiveEvent] = []
    private var fills = 0

    init(prefixes: [[UInt8]], window: UInt32 = 1000, bufferLimit: Int = 100_000) {
        self.prefixes = prefixes
        self.window = max(2, window)
        self.bufferLimit = bufferLimit
    }

    /// The hello arrived: live from `liveFrom`; catch up from `startAt` first if given.
    mutating func start(liveFrom: UInt64, startAt: UInt64?, now: UInt64) -> [Action] {
        started = true
        if let startAt {
            verified = startAt > 0 ? startAt - 1 : 0
            delivered = verified
            return startFill(now: now)
        }
        ledger.catchUpDone = true
        verified = liveFrom
        let early = held.sorted { $0.seq < $1.seq }
        held = []
        delivered = max(liveFrom, early.last?.seq ?? 0)
        return early.map { .deliver($0) }  // before the hello: as they came
    }

    mutating func live(_ e: LiveEvent, now: UInt64) -> [Action] {
        guard started, fill == nil else {
            if held.count >= bufferLimit { held.removeFirst() }  // a later replay brings it back
            held.append(e)
            return []
        }
        if e.seq <= delivered {
            ledger.duplicatesDropped &+= 1
            return []
        }
        if e.seq == verified + 1 {
            verified = e.seq
            delivered = e.seq
            return [.deliver(e)]
        }
        ledger.gapsSuspected &+= 1
        held.append(e)
        return startFill(now: now)
    }

    /// A heartbeat: a head seq past `verified` may hide events lost on our topics.
    mutating func heartbeat(head: UInt64, now: UInt64) -> [Action] {
        guard started, fill == nil, head > verified else { return [] }
        ledger.gapsSuspected &+= 1
        return startFill(now: now)
    }

    mutating func replay(_ reply: ReplayCodec.Reply, now: UInt64) -> [Action] {
        guard var f = fill else { return [] }
        switch reply {
        case .packed(let id, let records) where id == f.id:
            // The packed form (§4.9.2): its events one by one, as if each came in an EVENT.
            guard let events = PackedReplay.events(records) else {
                // A damaged frame is never a shorter batch. The broker does not check
                // checksums in this form: ask the same range again event by event,
                // where it does, and names a damaged record by its seq (206).
                fill = nil
                return [.send(ReplayCodec.cancelFrames(id: id))]
                    + startFill(from: max(f.from, f.lastSeq + 1), catchUp: f.catchUp, packed: false, now: now)
            }
            return events.flatMap { replay(.event(id: id, $0), now: now) }
        case .event(let id, let e) where id == f.id:
            f.lastHeard = now
            f.received += 1
            f.lastSeq = max(f.lastSeq, e.seq)
            var actions: [Action] = []
            if f.received % (window / 2) == 0 {
                actions.append(.send(ReplayCodec.creditFrames(id: f.id, credit: window / 2)))
            }
            if e.seq > delivered {
                delivered = e.seq
                ledger.recovered &+= 1
                if f.catchUp { ledger.caughtUp &+= 1 }
                f.foundNew = true
                actions.append(.deliver(e))
            } else {
                ledger.duplicatesDropped &+= 1
            }
            fill = f
            return actions
        case .caughtUp(let id, let last) where id == f.id:
            if f.catchUp {
                ledger.catchUpDone = true
            } else if f.foundNew {
                ledger.gapsFilled &+= 1
            }
            verified = max(verified, last)
            delivered = max(delivered, verified)
            fill = nil
            let waiting = held.sorted { $0.seq < $1.seq }
            held = []
            return waiting.flatMap { live($0, now: now) }
        case .error(let e, let id, let seq) where id == f.id:
            fill = nil
            // 204 at the start, or mid-stream when retention removed what the
            // replay was about to read: the seqs after what it sent are lost.
            let lostFrom = max(f.from, f.lastSeq + 1)
            if e.code == .sequenceOutOfRange, let earliest = seq, earliest > lostFrom {
                ledger.lostRanges &+= 1
                ledger.lostSeqs &+= earliest - lostFrom
                verified = max(verified, earliest - 1)
                delivered = max(delivered, verified)
                let warning = "lost: the journal no longer holds seqs \(lostFrom)-\(earliest - 1) (retention)"
                return [.warn(warning)] + startFill(now: now)
            }
            // 206: every matching event before the damaged record was sent; it alone
            // is skipped (the broker cannot read it for anyone).
            if e.code == .damagedRecord, let damaged = seq, damaged >= lostFrom {
                ledger.damagedRecords &+= 1
                verified = max(verified, damaged)
                delivered = max(delivered, verified)
                let warning =
                    "lost: the broker's journal record \(damaged) is damaged and was skipped (its topic is unknown; the broker's log names the file)"
                return [.warn(warning)] + startFill(now: now)
            }
            return []  // the next jump or heartbeat tries again
        default:
            return []
        }
    }

    /// Asks again for a replay that has gone silent.
    mutating func tick(now: UInt64) -> [Action] {
        guard let f = fill, now > f.lastHeard, now - f.lastHeard > fillTimeoutNs else { return [] }
        fill = nil
        return [.send(ReplayCodec.cancelFrames(id: f.id))] + startFill(now: now)
    }

    /// A fill started before the catch-up from `startAt` reached the live stream
    /// (the first, or one asked again after it failed or went silent) carries it on.
    private mutating func startFill(now: UInt64) -> [Action] {
        startFill(from: verified + 1, catchUp: !ledger.catchUpDone, packed: true, now: now)
    }

    /// `packed`: EVENT-PACKED frames (§4.9.2), whose checksums only this side
    /// checks; false after a damaged frame, so that the broker, which checks each
    /// record in the per-event form, sends what comes before the damaged record and
    /// names it by its seq (206).
    private mutating func startFill(from: UInt64, catchUp: Bool, packed: Bool, now: UInt64) -> [Action] {
        fills += 1
        let f = Fill(id: Array("gap-\(fills)".utf8), from: from, catchUp: catchUp, lastHeard: now)
        fill = f
        // Packed (§4.9.2, the broker's default batch size): four frames per batch
        // instead of six per event; the events reach the application one by one.
        let request = ReplayCodec.Request(
            id: f.id, start: .seq(f.from), credit: window, prefixes: prefixes, packing: packed ? 0 : nil)
        return [.send(request.frames)]
    }
}
