import Foundation
package import Logging
import MetroProtocol
package import MetroSecurity
import Synchronization
import ZeroMQ

#if canImport(Glibc)
    import Glibc
#endif

/// `MetroBroker` is the broker: it takes events on the ingest (ROUTER) and publish
/// (XSUB) sockets, gives each a seq, journals it, fans it out on the events (XPUB)
/// socket, acknowledges acknowledged publishes once durable, and serves STATS,
/// METRICS, replay and consumer groups on the consume (ROUTER) socket. protocol.md
/// §4 is the contract.
///
/// `BrokerEngine` is the single-threaded loop (like `zmq_proxy`): one dedicated
/// thread polls the four sockets, the journal syncer's wake pipe and a control
/// pipe, drains each socket in non-blocking batches, forwards frames without
/// copying them, writes the journal once per batch, and sends ACKs when the
/// syncer says their batch is durable. No call in the loop blocks except the poll.
///
/// Components, each a final class owned by the engine and used on the loop thread:
/// - `EventLog` (Log/): the one place an event gets its seq, is journaled (through
///   the seq reservation), is counted and is handed to the fan-out. Publish,
///   acknowledged publish and dead letters all append through it; its error is a
///   typed `JournalError`.
/// - `FanOut` (Fanout/): the events socket: sends events zero-copy from the buffer
///   they arrived in, heartbeats and hellos, counts subscriptions. The event log
///   writes into it rather than returning a message: a returned message per event
///   would cost an allocation on the hot path.
/// - `GroupCoordinator` (Groups/): the consumer groups; a command returns its reply,
///   deliveries go out through the `ConsumeSender`.
/// - `ReplayScheduler` (Replay/): the replays; a command returns its reply, the
///   streams go out through the `ConsumeSender` (each send's outcome steers them).
/// - `ConsumeSender` (Consume/): typed replies onto the consume socket.
/// The engine itself keeps the acknowledged-publish state (dedupe window, ACK
/// ledger, `Ingest/`, with `IngestReplies` writing ACKs and ERRORs), when the
/// journal is written and what a storage failure means (`BrokerEngine+Storage`), and
/// `run()`, which polls and dispatches: it drains each socket, decodes, hands the
/// request to its component and sends the reply it returns (`BrokerEngine+Consume`).
///
/// Threading: `init` binds the sockets on the caller's thread; `run()` then owns
/// them on the loop thread (ownership moves once, at thread start). `stop()` is
/// the only method other threads may call.
package final class BrokerEngine: @unchecked Sendable {
    /// An ACK waiting for its flush; the routing id and the event id are its
    /// attachment in the ledger (`routingCount` bytes, then the id).
    struct PendingAck {
        var seq: UInt64
        var routingCount: Int
        /// The batch (multi-event PUBLISH) it came in, or 0 for a single event.
        var batch: UInt64
        /// Whether it came in a PUBLISH-PACKED (§4.2.6): answered with ACK-PACKED.
        var packed = false
    }

    let configuration: BrokerConfiguration
    let logger: Logger
    let context: Context
    let ingest: Socket
    let publish: Socket
    let consume: Socket
    let journal: Journal
    let syncer: JournalSyncer?
    /// Reads the sealed segments in the background (nil when turned off).
    let scrubber: JournalScrubber?
    let counters = BrokerCounters()
    /// The counters as swift-metrics sees them, published once a second (Stats/BrokerMetrics.swift).
    let metrics = BrokerMetrics()
    let clock: @Sendable () -> UInt64

    /// Seqs, the journal and the fan-out: every accepted event goes through it.
    let log: EventLog
    let fanOut: FanOut
    let consumeSender: ConsumeSender
    /// ACKs and ERRORs on the ingest socket.
    let ingestReplies: IngestReplies
    /// Replays in progress on the consume socket (§4.9).
    let replays: ReplayScheduler
    /// Durable consumer groups (§4.10).
    let groups: GroupCoordinator

    /// Retried event ids answered from the window (§4.2.2).
    var dedupe: DedupeWindow
    /// Which ACKs wait for which journal flush (group commit).
    var acks: AckLedger<PendingAck>

    /// Monitors of the four sockets (disconnections, §2.6), in `socketNames` order.
    /// They are read every `monitorPeriodNs` and before each stats snapshot, not
    /// polled: `zmq_poll` checks every socket in its set on each wake-up (two system
    /// calls each), and at low rates every event is a wake-up; without the monitors
    /// the loop spends ~10% less CPU at 10k events/s (docs/performance.md, "What
    /// limits what").
    let monitors: [SocketMonitor]
    /// Consume connections that only asked for STATS or METRICS (loop thread).
    var adminPeers = AdminPeers()
    /// The consume connection each group member joined on (loop thread), and the
    /// members whose connections the monitor saw close, lost at the end of the
    /// turn (`loseClosedMembers`).
    var memberConnections = MemberConnections()
    var closedMembers: [[UInt8]] = []
    static let monitorPeriodNs: UInt64 = 100_000_000
    static let socketNames = ["ingest", "publish", "events", "consume"]

    let ingestBuffer = MultipartBuffer(capacity: BrokerEngine.ingestCapacity, scratch: BrokerEngine.ingestScratch)
    /// The number of the last multi-event PUBLISH (ACK grouping, §4.2.1).
    var lastBatch: UInt64 = 0
    /// The dedupe keys of the request being handled (one per event), and where the
    /// table reads ahead of them are folded so the compiler keeps them.
    let requestKeys = UnsafeMutableBufferPointer<DedupeWindow.Key>.allocate(
        capacity: IngestCodec.maxEventsPerPublish)
    var warmSink: UInt64 = 0
    let publishBuffer = MultipartBuffer(capacity: 4, scratch: 1)
    let consumeBuffer = MultipartBuffer(capacity: 9 + ReplayCodec.maxPrefixes)  // REPLAY-PACKED with 64 prefixes
    let maxPayloadBytes: Int
    let batchLimit = 1024
    /// When held journal bytes must be written at the latest (0: none held); see `endBatch`.
    var flushDeadline: UInt64 = 0
    static let flushDelayNs: UInt64 = 1_000_000
    static let heldFlushBytes = 64 << 10
    /// After a failed journal write: when the loop tries again by itself (0: writes
    /// succeed). A publisher waiting for an ACK makes it try at once.
    var writeRetryAt: UInt64 = 0
    static let writeRetryNs: UInt64 = 100_000_000
    /// Storage errors repeat per event or per batch: logged at most once a second.
    var storageLog = LogThrottle(periodNs: 1_000_000_000)

    /// The largest inbound frame the events socket takes: a subscription to a
    /// prefix of at most `Topic.maxBytes`. libzmq 4.3 peers speaking ZMTP 3.1
    /// send it as the SUBSCRIBE command (a name-length byte, "SUBSCRIBE", the
    /// prefix: 10 + 255 bytes), older ones as a message (0x01, the prefix), and
    /// ZMQ_MAXMSGSIZE applies to both (measured: a 254-byte prefix was refused at
    /// 1 + 255).
    static let maxSubscriptionBytes = 10 + Topic.maxBytes
    /// With CURVE on, the limit must also pass the handshake: ZMQ_MAXMSGSIZE applies
    /// to every ZMTP frame, CURVE's INITIATE is 257 bytes plus the client's metadata
    /// (a CURVE SUB could not connect at 265), and an encrypted subscription is 33 more bytes
    /// than its text. Only allow-listed clients get past the handshake to use it.
    static let curveAllowanceBytes = 512

    /// The failed fsync that ended the loop, if one did (`failStorage`). Written on
    /// the loop thread; read by `run()`'s caller after it returns.
    package internal(set) var storageFailure: JournalError?

    let stopping = Atomic<Bool>(false)
    private let control = WakePipe()

    /// The endpoints actually bound (ephemeral ports resolved), by socket name.
    package let boundEndpoints: [String: String]
    /// The events endpoint a reload unbound and could not bind again yet
    /// (`bindEventsAgain`); nil almost always.
    var eventsRebindPending: String?

    /// With CURVE on, the context's ZAP handler (protocol.md §7), bound before the
    /// sockets; `BrokerService` runs it on a thread of its own.
    let zap: ZapHandler?
    /// With CURVE on, the permission checks (protocol.md §7.8); nil: none run.
    let permissions: BrokerPermissions?
    /// The claim on `configuration.dataDir`, given up when the loop has ended.
    let dataLock: DataFolderLock

    /// Opens and recovers the journal and binds the four sockets; with `security`,
    /// as CURVE servers whose clients `security.authenticator` admits.
    package init(
        configuration: BrokerConfiguration, logger: Logger, security: CurveServer? = nil,
        clock: @escaping @Sendable () -> UInt64 = BrokerEngine.wallClock
    ) throws {
        try configuration.validate()
        self.configuration = configuration
        self.logger = logger
        self.clock = clock
        maxPayloadBytes = configuration.limits.maxPayloadBytes

        var options = Journal.Options()
        options.segmentBytes = configuration.journal.segmentBytes
        options.retentionBytes = configuration.journal.retention.maxBytes
        options.retentionAgeNanoseconds =
            UInt64(max(0, configuration.journal.retention.maxAgeHours)) * 3_600_000_000_000
        options.maxRecordBytes = JournalRecord.size(
            id: BrokerLimits.maxEventIDBytes, topic: Topic.maxBytes, headers: BrokerLimits.maxHeadersBytes,
            payload: maxPayloadBytes)
        // Zero fill makes fdatasync cheaper, which matters when ACKs wait for it
        // (`always`). Under `interval` the sync is off every critical path, and
        // writing each byte twice (zeros, then data) cost fan-out throughput.
        if configuration.journal.fsync != .always { options.zeroFillBytes = 0 }
        // Before anything in the folder is read: one broker per journal (`DataFolderLock`).
        dataLock = try DataFolderLock(directory: configuration.dataDir)
        let journal = try Journal(directory: configuration.dataDir, options: options, logger: logger)
        self.journal = journal
        let reservation = try SequenceReservation(directory: configuration.dataDir)
        acks = AckLedger(recovered: journal.lastSeq)
        let r = journal.recovery
        logger.info(
            "slow subscribers: each may hold this many events queued (limits.subscriberBufferBytes)",
            metadata: [
                "eventsHighWaterMark": "\(configuration.eventsHighWaterMark)",
                "subscriberBufferBytes": "\(configuration.limits.subscriberBufferBytes)",
            ])
        logger.info(
            "journal recovered",
            metadata: [
                "segments": "\(r.segments)", "records": "\(r.records)", "lastSeq": "\(r.lastSeq)",
                "truncatedBytes": "\(r.truncatedBytes)", "nextSeq": "\(max(journal.lastSeq, reservation.limit) &+ 1)",
            ])

        switch configuration.journal.fsync {
        case .always: syncer = JournalSyncer(directory: configuration.dataDir)
        case .interval:
            syncer = JournalSyncer(
                directory: configuration.dataDir,
                interval: .milliseconds(max(1, configuration.journal.fsyncIntervalMs)))
        case .never: syncer = nil
        }
        let scrubEvery = configuration.journal.scrubIntervalSeconds
        scrubber =
            scrubEvery > 0
            ? JournalScrubber(
                directory: configuration.dataDir,
                settings: .init(
                    interval: .seconds(scrubEvery), bytesPerSecond: configuration.journal.scrubBytesPerSecond),
                logger: logger) : nil

        dedupe = DedupeWindow(
            windowNanoseconds: UInt64(max(0, configuration.dedupe.windowSeconds)) * 1_000_000_000,
            maxEntries: max(1, configuration.dedupe.maxEntries))
        let now = clock()
        var refill = dedupe
        try journal.forEachRecord(since: now &- refill.window) { record in
            if !record.eventID.isEmpty {
                refill.insert(DedupeWindow.Key(record.eventID), seq: record.seq, time: record.time)
            }
        }
        dedupe = refill

        let ctx = try Context(ioThreads: 1, defaultLingerMilliseconds: configuration.lingerMs)
        context = ctx
        zap = try security.map { try $0.bindHandler(in: ctx) }
        let permissions = security.map {
            BrokerPermissions(
                AccessControl(
                    authenticator: $0.authenticator, registryIdentity: configuration.security.registryIdentity,
                    logger: logger))
        }
        self.permissions = permissions
        let frameLimit = maxPayloadBytes + 64 * 1024
        let limits = configuration.limits
        let make = { (type: SocketType) throws -> Socket in
            let s = try ctx.socket(type)
            try security?.secure(s)
            try s.set(.maxMessageSize(frameLimit))
            try s.set(.sendHighWaterMark(limits.sendHighWaterMark))
            try s.set(.receiveHighWaterMark(limits.receiveHighWaterMark))
            return s
        }
        ingest = try make(.router)
        try ingest.set(.routerMandatory(true))
        publish = try make(.xsub)
        let events = try make(.xpub)
        // Inbound, the events socket takes only subscriptions: one byte and a
        // prefix of at most a topic's length. libzmq keeps every subscription in
        // its trie (~45 bytes of RSS per byte of prefix), so a longer one is
        // refused at the socket: ZeroMQ disconnects its sender (§4.4).
        try events.set(
            .maxMessageSize(Self.maxSubscriptionBytes + (security == nil ? 0 : Self.curveAllowanceBytes)))
        // Outbound, a slow subscriber's queue is bounded in bytes (§4.4.3).
        try events.set(.sendHighWaterMark(configuration.eventsHighWaterMark))
        // With CURVE on the broker decides each subscription (`FanOut`, §7.8).
        if security != nil { try events.set(.xpubManual(true)) }
        consume = try make(.router)
        try consume.set(.routerMandatory(true))

        var bound: [String: String] = [:]
        bound["ingest"] = try ingest.bindResolved(configuration.endpoints.ingest)
        bound["publish"] = try publish.bindResolved(configuration.endpoints.publish)
        bound["events"] = try events.bindResolved(configuration.endpoints.events)
        bound["consume"] = try consume.bindResolved(configuration.endpoints.consume)
        boundEndpoints = bound
        // ZeroMQ drops a peer that sends an oversized frame; only the monitor sees it.
        monitors = try [ingest, publish, events, consume].map { try $0.monitor(.disconnected) }
        // XSUB: subscribe to everything, so that every PUB sends us all it publishes.
        try publish.send([1])

        ingestReplies = IngestReplies(socket: ingest, counters: counters)
        fanOut = FanOut(events: events, counters: counters, permissions: permissions)
        log = try EventLog(journal: journal, reservation: reservation, fanOut: fanOut, counters: counters)
        consumeSender = ConsumeSender(socket: consume)
        replays = ReplayScheduler(
            journal: journal, sender: consumeSender, counters: counters, idleMs: configuration.limits.replayIdleMs,
            logger: logger)
        groups = try GroupCoordinator(
            log: log, sender: consumeSender, counters: counters, directory: configuration.dataDir,
            heartbeatMs: configuration.heartbeatIntervalMs, logger: logger)
        groups.storageError = { [unowned self] error in
            if error.isSyncFailure { failStorage(error) } else { appendFailed(error) }
        }
        if let syncer {
            journal.attach(syncer)
        }
    }

    deinit {
        requestKeys.deallocate()
    }

    package static let wallClock: @Sendable () -> UInt64 = {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    /// Asks the loop to finish: it stops reading, flushes and syncs the journal,
    /// sends the ACKs that became durable, and closes its sockets. Any thread.
    package func stop() {
        stopping.store(true, ordering: .releasing)
        control.wake()
    }

    /// The loop. Runs on the calling (dedicated) thread until `stop()`.
    package func run() {
        syncer?.start()
        scrubber?.start()
        // Not `Poller` (zmq_poll): it asks every socket for its events twice per
        // wake-up, two system calls each (LoopPoller's comment has the numbers).
        let poller = LoopPoller()
        let ingestItem: Int, publishItem: Int, eventsItem: Int, consumeItem: Int
        do {
            ingestItem = try poller.add(ingest)
            publishItem = try poller.add(publish)
            eventsItem = try poller.add(fanOut.events)
            consumeItem = try poller.add(consume)
        } catch {
            logger.critical("broker loop: cannot poll its sockets: \(error)")
            return shutdown()
        }
        let syncItem = syncer.map { poller.add(fileDescriptor: $0.wakeFD) }
        poller.add(fileDescriptor: control.readFD)
        let heartbeatNs = UInt64(max(1, configuration.heartbeatIntervalMs)) * 1_000_000
        var nextHeartbeat = clock() &+ heartbeatNs
        var nextRetention = clock() &+ 10_000_000_000
        var nextMonitorRead = clock() &+ Self.monitorPeriodNs
        var lastErrorLog: UInt64 = 0
        var suppressedErrors = 0

        while !stopping.load(ordering: .acquiring) {
            let now = clock()
            var wait = nextHeartbeat > now ? Int((nextHeartbeat - now) / 1_000_000) + 1 : 0
            if let cap = replays.waitMilliseconds { wait = min(wait, cap) }
            if !groups.isEmpty { wait = groups.hasWork ? 0 : min(wait, Int(GroupCoordinator.tickNs / 1_000_000)) }
            if flushDeadline != 0 {
                wait = min(wait, flushDeadline > now ? Int((flushDeadline - now) / 1_000_000) + 1 : 0)
            }
            wait = min(wait, nextMonitorRead > now ? Int((nextMonitorRead - now) / 1_000_000) + 1 : 0)
            do {
                try poller.poll(timeoutMilliseconds: wait)
                // Durable ACKs first: each one frees a client's window, and the
                // drains below can hold the loop for a few hundred microseconds.
                if let syncItem, poller.isReadable(syncItem) {
                    syncer!.drainWake()
                    sendDurableAcks()
                }
                // After a storage failure the loop takes no more events, and ends below;
                // PUBLISHes already queued get ERROR 205 (`accept`) rather than a timeout.
                if storageFailure == nil && poller.isReadable(publishItem) { try drainPublish() }
                if poller.isReadable(ingestItem) { try drainIngest() }
                try endBatch()
                // The syncer may have finished meanwhile (an atomic load when not).
                sendDurableAcks()
                if let failure = fanOut.takeFailure() { throw failure }
                if poller.isReadable(eventsItem) {
                    try fanOut.drainSubscriptions(limit: batchLimit, headSeq: log.headSeq, now: clock())
                }
                if poller.isReadable(consumeItem) { try drainConsume() }
                let turn = clock()
                if turn >= nextMonitorRead {
                    try readMonitors()
                    nextMonitorRead = turn &+ Self.monitorPeriodNs
                }
                try loseClosedMembers()
                withdrawRevokedGrants()
                replays.pump(now: turn, clock: clock)
                groups.pump(now: clock())
                // Dead letters the groups appended are written with this turn's batch.
                if !groups.isEmpty { try endBatch() }
                let after = clock()
                if after >= nextHeartbeat {
                    try fanOut.sendHeartbeat(headSeq: log.headSeq, now: after)
                    nextHeartbeat = after &+ heartbeatNs
                }
                metrics.publishIfDue(now: after) { stats }
                if after >= nextRetention {
                    journal.applyRetention(now: after)
                    dedupe.expire(now: after)
                    nextRetention = after &+ 10_000_000_000
                }
            } catch let error as ZMQError where error.code == .contextTerminated {
                break
            } catch {
                // A failure that repeats every iteration is logged once a second.
                let now = clock()
                if now &- lastErrorLog >= 1_000_000_000 {
                    logger.error("broker loop: \(error)", metadata: ["suppressed": "\(suppressedErrors)"])
                    lastErrorLog = now
                    suppressedErrors = 0
                } else {
                    suppressedErrors += 1
                }
            }
        }
        shutdown()
    }

    /// Counts the disconnections the monitors have seen since the last read; on the
    /// consume socket not those of connections that only asked for STATS or
    /// METRICS (`adminPeers`): an operator's `metro broker stats` is no lost peer.
    /// A closed consume connection that a group member joined on queues the
    /// member's loss (`closedMembers`).
    func readMonitors() throws(ZMQError) {
        for (i, monitor) in monitors.enumerated() {
            while let event = try monitor.next(timeoutMilliseconds: 0) {
                if i == Self.consumeIndex {
                    if let member = memberConnections.closed(fd: event.value) { closedMembers.append(member) }
                    if !adminPeers.closed(fd: event.value) { continue }
                }
                counters.disconnects[i] &+= 1
            }
        }
    }

    /// The consume socket's place in `socketNames` and `monitors`.
    static let consumeIndex = 3

    /// The counters now (loop thread). Catches up on durability and on the monitors
    /// first: the syncer wakes the loop only when ACKs wait, so `durableSeq` may not
    /// have been read, and the monitors are read only every `monitorPeriodNs`.
    var stats: BrokerStats {
        sendDurableAcks()
        do { try readMonitors() } catch { logger.error("reading the socket monitors: \(error)") }
        return counters.snapshot(
            journalBytes: journal.bytesWritten, fsyncs: syncer?.fsyncs ?? 0,
            fsyncNanoseconds: syncer?.fsyncNanoseconds ?? 0, headSeq: log.headSeq,
            durableSeq: acks.durableSeq, segments: journal.segmentCount, activeReplays: replays.count,
            groups: groups.stats, journalSizeBytes: UInt64(max(0, journal.totalBytes)),
            rssBytes: ResidentMemory.bytes(), firstSeq: journal.firstSeq, scrub: scrubber?.stats)
    }
}
