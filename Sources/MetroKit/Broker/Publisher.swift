import Foundation
public import Logging
import MetroProtocol
public import ServiceLifecycle
public import ZeroMQ

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
/// Threading: the sockets live on the publisher's `IOThread` (its rule applies).
/// Async callers hand it requests through its command queue and wait on
/// continuations; nothing blocks Swift's cooperative pool. The thread starts on the
/// first publish; `close()` (or, as a `Service`, graceful shutdown of `run()`) ends it,
/// and publishes still waiting then fail with `.closed`. Cancelling the task of a
/// `publish` makes it throw `CancellationError` at once; the event may still be
/// stored, so retry with the same id if it matters.
public final class Publisher: Service, Sendable {
    /// How the publisher reaches the broker and paces itself; read once, by `init`.
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
        /// An event without ACK after this long is sent again with the same event id (the
        /// broker answers a duplicate with the first seq). Raise it where the broker's
        /// fsync or the machine's load can delay ACKs past a second. An event the broker
        /// refused for a passing reason (a full disk: ERROR 205; 100, 104) goes again
        /// sooner: `refusedRetryFirst`, doubling up to `refusedRetryMax`, and at once
        /// when another event is ACKed (the broker takes events again).
        public var ackTimeout: Duration = .seconds(1)
        /// The first wait before an event refused for a passing reason is sent again.
        public var refusedRetryFirst: Duration = .milliseconds(20)
        /// The longest wait between two sends of a refused event (at most `ackTimeout`).
        /// Until 2026-12-05 refused events waited `ackTimeout` (1 s): a broker whose disk
        /// had room again took them up to a second later, and uploads waiting on those
        /// ACKs held the gateway's permits meanwhile (docs/operations.md, "When the disk fails").
        public var refusedRetryMax: Duration = .milliseconds(200)
        /// A publish fails with `.timedOut` once this long has passed without an ACK.
        public var giveUpAfter: Duration = .seconds(60)
        /// Fire-and-forget messages held while the broker is not (yet) connected;
        /// beyond this many, new ones are dropped.
        public var holdLimit = 10_000
        /// CURVE (protocol.md §7): this client's key pair and the broker's public key,
        /// for a broker with `security.curve` on; nil (the default) speaks plain ZMTP.
        public var curve: CurveCredentials?

        /// The defaults suit a broker on the same host; `publish` only for `fireAndForget`.
        public init(ingest: String, publish: String? = nil) {
            self.ingest = ingest
            self.publish = publish
        }
    }

    enum Command: Sendable {
        case publish(IngestCodec.Publish, PublishReply)
        /// One `publish(batch:)`: its events enter the send queue together, in order.
        case publishBatch([IngestCodec.Publish], BatchReply)
        case fire([[UInt8]])
        case cancel([UInt8])
    }

    let options: Options
    let io: IOThread<PublisherLoop>

    /// Prepares the publisher; its I/O thread starts on first use (or `run()`).
    /// `context` defaults to one of its own, released on the I/O thread at the end.
    public init(_ options: Options, context: Context? = nil, logger: Logger = Logger(label: "metro.publisher")) throws {
        self.options = options
        let ctx = try context ?? Context(ioThreads: 1, defaultLingerMilliseconds: 200)
        io = IOThread(
            name: "metro-publisher", context: ctx, logger: logger,
            makeLoop: { setup in try PublisherLoop(options: options, setup: setup, logger: logger) },
            onEnd: { unhandled in
                for command in unhandled {
                    switch command {
                    case .publish(_, let reply): reply.resume(.failure(MetroClientError.closed("publish")))
                    case .publishBatch(let requests, let batch):
                        for i in requests.indices { batch.set(i, .failure(MetroClientError.closed("publish"))) }
                    case .fire, .cancel: break
                    }
                }
            })
    }

    /// Asks the I/O thread to stop; never waits. Prefer `close()`.
    deinit { io.requestStop() }

    /// Publishes one event and returns its seq once it is journaled. `eventID`
    /// defaults to a new UUID; pass your own (1–64 bytes) to make the publish
    /// idempotent.
    public func publish(
        topic: String, payload: [UInt8], headers: [UInt8] = [], eventID: [UInt8]? = nil
    ) async throws -> UInt64 {
        let request = IngestCodec.Publish(
            eventID: eventID ?? Array(RandomUUID.string(uppercase: true).utf8), topic: topic, headers: headers,
            payload: payload)
        try Self.checkID(request.eventID)
        let io = self.io
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                if Task.isCancelled {
                    continuation.resume(throwing: CancellationError())
                    return
                }
                if !io.send(.publish(request, .one(continuation))) {
                    continuation.resume(throwing: MetroClientError.closed("publish"))
                }
            }
        } onCancel: {
            // The I/O thread stops waiting for this id; the broker may still store it
            // (a later publish with the same id gets its seq from the dedupe window).
            io.send(.cancel(request.eventID))
        }
    }

    /// The broker's ERROR for an unusable id cannot name the id (§4.2.1), so the
    /// caller could not be told: refuse it before sending.
    static func checkID(_ id: [UInt8]) throws {
        guard IngestCodec.echoesID(idLength: id.count) else {
            throw MetroClientError(
                .invalidArgument, operation: "publish", message: "an event id has 1–64 bytes, this one \(id.count)")
        }
    }

    /// Publishes without acknowledgement on the publish socket (`[topic][headers]?[payload]`).
    /// Throws `.invalidArgument` without a publish endpoint, `.closed` after `close()`.
    public func fireAndForget(topic: String, payload: [UInt8], headers: [UInt8]? = nil) throws {
        guard options.publish != nil else {
            throw MetroClientError(.invalidArgument, operation: "fire-and-forget", message: "no publish endpoint")
        }
        let frames = headers.map { [Array(topic.utf8), $0, payload] } ?? [Array(topic.utf8), payload]
        guard io.send(.fire(frames)) else { throw MetroClientError.closed("fire-and-forget") }
    }

    /// Runs the I/O thread until `close()`, graceful shutdown or cancellation
    /// (swift-service-lifecycle `Service`).
    public func run() async throws { await io.run() }

    /// Stops the I/O thread and waits for it (without blocking a thread); waiting
    /// publishes fail with `.closed`. Safe to call more than once, from any task.
    public func close() async { await io.shutdown() }
}
