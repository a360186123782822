import Foundation
import Logging
import MetroProtocol
import ZeroMQ

/// The `Publisher`'s I/O loop, run by its `IOThread`: owns the DEALER and the XPUB
/// sockets, keeps the in-flight window, matches ACKs to waiting callers, and resends
/// on timeout. Made and used on the I/O thread only.
final class PublisherLoop: IOThreadLoop {
    struct InFlight {
        var request: IngestCodec.Publish
        var reply: PublishReply
        var sentAt: ContinuousClock.Instant
        var firstSentAt: ContinuousClock.Instant
        /// When it is sent again: `ackTimeout` after a send, sooner after a refusal.
        var retryAt: ContinuousClock.Instant
        /// Refusals for a passing reason since it was first sent.
        var refusals = 0
    }

    let options: Publisher.Options
    let logger: Logger
    let poller = Poller()
    let pollTimeoutMilliseconds = 50
    private let dealer: Socket
    private let dealerItem: Int
    private let pub: Socket?
    var inFlight: [[UInt8]: InFlight] = [:]
    /// Whether some event in flight was refused for a passing reason since the last ACK.
    private var holdsRefused = false
    var waiting: [(IngestCodec.Publish, PublishReply)] = []
    var waitingHead = 0
    /// Whether the broker's publish socket has subscribed to this XPUB.
    var publishLive = false
    /// Fire-and-forget messages waiting for `publishLive` (at most `holdLimit`).
    var held: [[[UInt8]]] = []
    /// With CURVE: the DEALER's handshake outcomes (`HandshakeWatch`).
    private let handshakes: HandshakeWatch?
    /// Set when the broker's ZAP refused this client's key; cleared by a handshake
    /// that succeeds. While set, every publish fails at once with it.
    private var refused: MetroClientError?

    /// I/O thread: makes and connects the sockets.
    init(options: Publisher.Options, setup: IOThread<PublisherLoop>.Setup, logger: Logger) throws {
        self.options = options
        self.logger = logger
        let context = setup.context
        dealer = try context.socket(.dealer)
        if let curve = options.curve { try dealer.makeCurveClient(curve) }
        try dealer.set(.sendHighWaterMark(max(1000, options.window * 2)))
        try dealer.set(.reconnectInterval(milliseconds: 50))
        try dealer.set(.reconnectIntervalMax(milliseconds: 500))
        handshakes = try HandshakeWatch.watching(dealer, curve: options.curve)
        try dealer.connect(options.ingest)
        // Fire-and-forget goes out on an XPUB, not a PUB: the broker's XSUB subscription
        // arrives on it as a message, so the loop knows when publishing stops being
        // dropped ("slow joiner") and holds messages until then.
        pub = try options.publish.map { endpoint throws -> Socket in
            let s = try context.socket(.xpub)
            if let curve = options.curve { try s.makeCurveClient(curve) }
            try s.connect(endpoint)
            return s
        }
        dealerItem = poller.add(dealer)
        poller.add(fileDescriptor: setup.wakeFD)
        if let pub { poller.add(pub) }
        if let handshakes { poller.add(handshakes.monitor.socket) }
    }

    /// Reads the handshake events: a refusal fails what is in flight and waiting,
    /// and later publishes until a handshake succeeds.
    private func readHandshakes() throws {
        guard let handshakes else { return }
        for outcome in try handshakes.read() {
            guard case .refused(let status) = outcome else {
                if refused != nil { logger.notice("the broker accepted this client's key now") }
                refused = nil
                continue
            }
            let error = HandshakeWatch.refusal("publish", status: status)
            if refused == nil { logger.error("\(error.message); nothing can be published") }
            refused = error
            for (_, f) in inFlight { f.reply.resume(.failure(error)) }
            for (_, reply) in waiting[waitingHead...] { reply.resume(.failure(error)) }
            inFlight = [:]
            waiting = []
            waitingHead = 0
        }
    }

    func handle(_ commands: [Publisher.Command]) throws -> Bool {
        // Subscription news first, so a message is not sent into a connection
        // already known to be gone.
        if let pub {
            // [0x01 prefix]: the broker subscribed; [0x00 prefix]: its connection went.
            while let frames = try pub.receiveMultipart(dontWait: true) {
                if let flag = frames.first?.first { publishLive = flag == 1 }
            }
            if publishLive {
                for frames in held { _ = try pub.trySend(multipart: frames) }
                held.removeAll()
            }
        }
        try readHandshakes()
        for command in commands {
            switch command {
            case .publish(_, let reply) where refused != nil:
                reply.resume(.failure(refused!))
            case .publishBatch(let requests, let batch) where refused != nil:
                for i in requests.indices { PublishReply.member(batch, index: i).resume(.failure(refused!)) }
            case .publish(let request, let reply):
                waiting.append((request, reply))
            case .publishBatch(let requests, let batch):
                // Contiguous in the queue: sent in this order, packed together.
                for (i, request) in requests.enumerated() { waiting.append((request, .member(batch, index: i))) }
            case .fire(let frames):
                if let pub, publishLive {
                    _ = try pub.trySend(multipart: frames)
                } else if held.count < options.holdLimit {
                    held.append(frames)
                }
            case .cancel(let id):
                cancel(id)
            }
        }
        if poller.isReadable(dealerItem) {
            while let frames = try dealer.receiveMultipart(dontWait: true) { handle(frames) }
        }
        try fillWindow(dealer)
        try resendExpired(dealer)
        return true
    }

    /// Fails every publish still waiting with `.closed` and closes the sockets.
    func finish() {
        let error = MetroClientError.closed("publish")
        for (_, f) in inFlight { f.reply.resume(.failure(error)) }
        for (_, reply) in waiting[waitingHead...] { reply.resume(.failure(error)) }
        inFlight = [:]
        waiting = []
        waitingHead = 0
        dealer.close()
        pub?.close()
        handshakes?.close()
    }

    /// Sends what waits, as far as the window allows, in PUBLISH-PACKED requests of
    /// up to `maxBatch` events and `maxBatchBytes` bytes each (§4.2.6). Events
    /// larger than `maxBatchBytes` (each frame of a plain PUBLISH is within the
    /// broker's limit on its own), events that cannot be packed (a topic over 255
    /// bytes; the broker refuses those and says why) and `maxBatch` 1 go as plain
    /// PUBLISH.
    private func fillWindow(_ dealer: Socket) throws {
        let now = ContinuousClock.now
        let maxEvents = max(1, min(options.maxBatch, IngestCodec.maxEventsPerPublish))
        var batch: [IngestCodec.Publish] = []
        var batchBytes = 0
        func sendBatch() throws {
            guard !batch.isEmpty else { return }
            _ = try dealer.trySend(multipart: PackedEvents.frames(publishing: batch))
            batch.removeAll(keepingCapacity: true)
            batchBytes = 0
        }
        while inFlight.count < options.window, waitingHead < waiting.count {
            let (request, reply) = waiting[waitingHead]
            waitingHead += 1
            if let existing = inFlight[request.eventID] {
                // Same id twice in flight: the first caller fails, the second waits.
                existing.reply.resume(
                    .failure(
                        MetroClientError(
                            .invalidArgument, operation: "publish", message: "event id published twice concurrently")))
            }
            inFlight[request.eventID] = InFlight(
                request: request, reply: reply, sentAt: now, firstSentAt: now, retryAt: now + options.ackTimeout)
            // (Ids are 1–64 bytes here: `publish` refuses others.)
            let size = PackedEvents.packedSize(request)
            guard maxEvents > 1, size <= options.maxBatchBytes, request.topic.utf8.count <= 255 else {
                _ = try dealer.trySend(multipart: request.frames)
                continue
            }
            if !batch.isEmpty && batchBytes + size > options.maxBatchBytes { try sendBatch() }
            batch.append(request)
            batchBytes += size
            if batch.count >= maxEvents { try sendBatch() }
        }
        try sendBatch()
        if waitingHead == waiting.count {
            waiting.removeAll(keepingCapacity: true)
            waitingHead = 0
        }
    }

    /// The wait before the `refusals`-th refused send goes again: `refusedRetryFirst`,
    /// doubling, at most `refusedRetryMax` and `ackTimeout`.
    private func refusedRetry(after refusals: Int) -> Duration {
        let cap = min(options.refusedRetryMax, options.ackTimeout)
        var wait = options.refusedRetryFirst
        for _ in 1..<max(1, min(refusals, 16)) where wait < cap { wait = wait * 2 }
        return min(wait, cap)
    }

    private func resendExpired(_ dealer: Socket) throws {
        let now = ContinuousClock.now
        for (id, f) in inFlight where now >= f.retryAt {
            if now - f.firstSentAt >= options.giveUpAfter {
                inFlight[id] = nil
                f.reply.resume(
                    .failure(
                        MetroClientError(
                            .timedOut, operation: "publish",
                            message:
                                "no ACK for event \(String(decoding: id, as: UTF8.self)) within \(options.giveUpAfter)")
                    ))
                continue
            }
            inFlight[id]!.sentAt = now
            inFlight[id]!.retryAt = now + options.ackTimeout
            _ = try dealer.trySend(multipart: f.request.frames)
        }
    }

    /// Stops waiting for `id` (its task was cancelled); unknown ids are already answered.
    private func cancel(_ id: [UInt8]) {
        if let f = inFlight.removeValue(forKey: id) {
            f.reply.resume(.failure(CancellationError()))
            return
        }
        if let i = waiting[waitingHead...].firstIndex(where: { $0.0.eventID == id }) {
            waiting[i].1.resume(.failure(CancellationError()))
            waiting.remove(at: i)
        }
    }

    private func handle(_ frames: [[UInt8]]) {
        switch IngestCodec.decodeReply(frames) {
        case .acks(let acks)?:
            for ack in acks {
                if let f = inFlight.removeValue(forKey: ack.eventID) { f.reply.resume(.success(ack.seq)) }
            }
            // The broker takes events again: what it refused goes now, not at its next try.
            if holdsRefused && !acks.isEmpty {
                holdsRefused = false
                let now = ContinuousClock.now
                for (id, f) in inFlight where f.refusals > 0 { inFlight[id]!.retryAt = now }
            }
        case .error(let error, let id?)?:
            // Passing failures are sent again, soon; the rest fail the publish.
            let transient = [.internalError, .unavailable, .journalFailure, .storageFailure].contains(error.code)
            if !transient, let f = inFlight.removeValue(forKey: id) {
                f.reply.resume(.failure(MetroClientError.rejected(error, operation: "publish")))
            } else if transient, let f = inFlight[id] {
                holdsRefused = true
                inFlight[id]!.refusals = f.refusals + 1
                inFlight[id]!.retryAt = min(f.retryAt, ContinuousClock.now + refusedRetry(after: f.refusals + 1))
            }
        case .error(let error, nil)?:
            logger.warning("broker error without an event id: \(error)")
        case nil:
            logger.warning("malformed reply from the broker")
        }
    }
}
