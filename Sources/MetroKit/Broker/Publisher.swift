import Foundation
import Logging
import MetroProtocol
import Synchronization
import ZeroMQ

/// Publishes events to a Metro broker (protocol.md §4.2 and §4.3).
///
/// `publish` is acknowledged: it returns the event's seq once the broker has it in
/// its journal. Up to `window` publishes are in flight at once; one not ACKed
/// within `ackTimeout` is sent again with the same event id (the broker's dedupe
/// window turns a retry into the original seq), until `giveUpAfter`.
/// `fireAndForget` sends on the broker's publish (XSUB) socket and returns at once.
/// It uses an XPUB socket, which sees the broker's subscription arrive: messages
/// published before that (at start, or while the broker restarts) are held, up to
/// `holdLimit`, instead of being lost to ZeroMQ's "slow joiner" effect.
///
/// Threading: the sockets live on one dedicated I/O thread. Async callers hand it
/// requests through a lock-protected queue and a wake-up pipe, and wait on
/// continuations; nothing blocks Swift's cooperative pool. `close()` ends the
/// thread; publishes still waiting then fail with `.closed`. Cancelling the task of
/// a `publish` makes it throw `CancellationError` at once; the event may still be
/// stored, so retry with the same id if it matters.
public final class Publisher: Sendable {
    public struct Options: Sendable {
        /// The broker's ingest (ROUTER) endpoint.
        public var ingest: String
        /// The broker's publish (XSUB) endpoint, for `fireAndForget`; nil disables it.
        public var publish: String?
        /// Publishes in flight at most.
        public var window = 256
        /// Publishes queued together go out as one PUBLISH-PACKED of up to this many
        /// events (protocol.md §4.2.6): far fewer ZeroMQ frames per event. 1 sends
        /// each event as a plain PUBLISH (§4.2).
        public var maxBatch = 64
        /// A packed batch holds at most this many bytes; an event larger than this
        /// goes alone as a plain PUBLISH. The default stays under the smallest
        /// frame limit a broker can have (`maxPayloadBytes` + 64 KiB, §2.6): a
        /// larger frame would make ZeroMQ drop the connection.
        public var maxBatchBytes = 60 * 1024
        public var ackTimeout: Duration = .seconds(1)
        /// A publish fails with `.timedOut` once this long has passed without an ACK.
        public var giveUpAfter: Duration = .seconds(60)
        /// Fire-and-forget messages held while the broker is not (yet) connected;
        /// beyond this many, new ones are dropped.
        public var holdLimit = 10_000

        public init(ingest: String, publish: String? = nil) {
            self.ingest = ingest
            self.publish = publish
        }
    }

    enum Command: Sendable {
        case publish(IngestCodec.Publish, CheckedContinuation<UInt64, any Error>)
        case fire([[UInt8]])
        case cancel([UInt8])
    }

    struct Queue: Sendable {
        var commands: [Command] = []
        var closed = false
    }

    let options: Options
    let queue = Mailbox(Queue())
    let wake = WakePipe()
    private let finished = DispatchSemaphore(value: 0)

    public init(_ options: Options, context: Context? = nil, logger: Logger = Logger(label: "metro.publisher")) throws {
        self.options = options
        let ctx = try context ?? Context(ioThreads: 1, defaultLingerMilliseconds: 200)
        let loop = PublisherLoop(options: options, context: ctx, queue: queue, wake: wake, logger: logger)
        let done = finished
        let thread = Thread {
            loop.run()
            done.signal()
        }
        thread.name = "metro-publisher"
        thread.start()
    }

    deinit { close() }

    /// Publishes one event and returns its seq once it is journaled. `eventID`
    /// defaults to a new UUID; pass your own (1–64 bytes) to make the publish
    /// idempotent.
    public func publish(
        topic: String, payload: [UInt8], headers: [UInt8] = [], eventID: [UInt8]? = nil
    ) async throws -> UInt64 {
        let request = IngestCodec.Publish(
            eventID: eventID ?? Array(UUID().uuidString.utf8), topic: topic, headers: headers, payload: payload)
        // The broker's ERROR for an unusable id cannot name the id (§4.2.1), so the
        // caller could not be told: refuse it here.
        guard IngestCodec.echoesID(idLength: request.eventID.count) else {
            throw MetroClientError.rejected(
                WireError(
                    request.eventID.isEmpty ? .missingEventID : .tooLarge,
                    "an event id has 1–64 bytes, this one \(request.eventID.count)"))
        }
        let queue = self.queue, wake = self.wake
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                if Task.isCancelled {
                    continuation.resume(throwing: CancellationError())
                    return
                }
                let accepted = queue.withLock { q in
                    guard !q.closed else { return false }
                    q.commands.append(.publish(request, continuation))
                    return true
                }
                if accepted { wake.wake() } else { continuation.resume(throwing: MetroClientError.closed) }
            }
        } onCancel: {
            // The I/O thread stops waiting for this id; the broker may still store it
            // (a later publish with the same id gets its seq from the dedupe window).
            queue.withLock { q in q.commands.append(.cancel(request.eventID)) }
            wake.wake()
        }
    }

    /// Publishes without acknowledgement on the publish socket (`[topic][headers]?[payload]`).
    public func fireAndForget(topic: String, payload: [UInt8], headers: [UInt8]? = nil) throws {
        guard options.publish != nil else { throw MetroClientError.closed }
        let frames = headers.map { [Array(topic.utf8), $0, payload] } ?? [Array(topic.utf8), payload]
        let accepted = queue.withLock { q in
            guard !q.closed else { return false }
            q.commands.append(.fire(frames))
            return true
        }
        guard accepted else { throw MetroClientError.closed }
        wake.wake()
    }

    /// Stops the I/O thread and waits for it; waiting publishes fail with `.closed`.
    public func close() {
        let first = queue.withLock { q in
            defer { q.closed = true }
            return !q.closed
        }
        guard first else { return }
        wake.wake()
        finished.wait()
    }
}
