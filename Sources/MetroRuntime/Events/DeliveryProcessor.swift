import Logging
import MetroKit
import MetroProtocol
import Synchronization

/// The life of one delivery : headers and schema major checked, the inbox
/// consulted, the handler run, its commit made durable, then exactly one of ACK,
/// REJECT (dead-letter now, with the reason) or NAK with backoff.
///
/// | what happened | answer |
/// |---|---|
/// | headers not a JSON object, unknown schema major, payload does not decode, `EventRejection` | reject |
/// | a redelivery (`attempt` > 1) whose id is in the inbox already | ACK, handler not run |
/// | a first delivery whose id is in the inbox already (rare: see below) | handler runs, its `commit` does nothing; ACK |
/// | handler returned; its commit (or the inbox-only one) is durable | ACK |
/// | the storage refused the commit (`StorageFault`: a full disk, an I/O error, busy) | held (EXTEND) and retried here, 100 ms doubling to 1 s, until it commits or the runtime stops |
/// | any other error before the commit | NAK after `backoff(attempt)` |
/// | an error after the commit | ACK (the effect is durable; a retry could not redo it), logged |
///
/// The inbox is read before the handler runs only where a duplicate is likely:
/// a redelivery (`attempt` > 1: the crash between a commit and its ACK lands
/// there) and a rebuild from the journal (`checksEveryDelivery`), where most
/// events are handled already. A live first delivery is a duplicate only when
/// the broker restarted from a `groups.state` older than the ACK (≤ 200 ms of
/// ACKs) or a publisher re-sent past the dedupe window; then the handler runs
/// and the inbox insert in its commit finds the id, so the effect still happens
/// once. That read cost ~100 µs of worker CPU per event (a hop to GRDB's
/// reader pool and back; docs/performance.md, "The inbox read before the handler").
struct DeliveryProcessor: Sendable {
    let registration: EventHandlerRegistration
    let consumer: Consumer
    let store: ServiceStore
    let faults: FaultPoints
    let logger: Logger
    /// Reads the inbox before every delivery, first ones included (a rebuild).
    var checksEveryDelivery = false

    /// The pause before retry `retry + 1` of a delivery whose commit the storage
    /// refused (`StorageFault`): 100 ms doubling, at most 1 s, so that the held
    /// events commit within a second of the disk's return (a retry is one
    /// transaction attempt: cheap even for a full credit window of held events).
    static func storagePause(retry: Int) -> Duration {
        min(.milliseconds(100 * (1 << min(retry, 4))), .seconds(1))
    }

    /// How long past each pause a held delivery's ACK deadline is set (EXTEND): the
    /// broker's default ACK timeout, so that a process that stops for good (SIGSTOP,
    /// a hung disk) gives its events back about as late as without the hold.
    static let storageHold: Duration = .seconds(30)

    /// NAK delay before attempt `attempt + 1`: 100 ms doubling, at most 30 s.
    static func backoff(attempt: UInt32) -> Duration {
        let exponent = min(Int(max(attempt, 1)) - 1, 9)
        return min(.milliseconds(100 * (1 << exponent)), .seconds(30))
    }

    func process(_ delivery: Consumer.Delivery) async {
        let start = ContinuousClock.now
        let topic = delivery.event.topic
        var logger = self.logger
        logger[metadataKey: "event-id"] = "\(EventIDText.describe(delivery.event.eventID))"
        logger[metadataKey: "topic"] = "\(topic)"
        let outcome = await settle(delivery, logger: &logger)
        let elapsed = ContinuousClock.now - start
        RuntimeMetrics.event(topic: topic, outcome: outcome, seconds: elapsed.seconds)
    }

    private func settle(_ delivery: Consumer.Delivery, logger: inout Logger) async -> RuntimeMetrics.Outcome {
        var headers = EventHeaders()
        if !registration.readsDeadLetters {
            switch EventHeaders.decode(delivery.event.headers) {
            case .success(let h): headers = h
            case .failure(let e): return reject(delivery, reason: e.description, logger: logger)
            }
        }
        if let id = headers.requestId { logger[metadataKey: "request-id"] = "\(id)" }
        guard let major = headers.schemaMajor, major == registration.schemaMajor || registration.readsDeadLetters
        else {
            return reject(
                delivery,
                reason:
                    "schema \"\(headers.schema)\" is not major \(registration.schemaMajor), the one this handler reads",
                logger: logger)
        }
        var storageRetries = 0
        while true {
            let state = CommitState()
            do {
                if checksEveryDelivery || delivery.attempt > 1 || storageRetries > 0,
                    try await store.alreadyHandled(group: registration.group, delivery.event.eventID)
                {
                    consumer.ack(delivery)
                    logger.debug("duplicate delivery: its effect has committed; ACKed")
                    return .duplicate
                }
                logger.debug("handling event", metadata: ["attempt": "\(delivery.attempt)"])
                let context = EventContext(
                    logger: logger, store: store, group: registration.group, eventID: delivery.event.eventID,
                    topic: delivery.event.topic, seq: delivery.seq,
                    correlation: EventHeaders(requestId: headers.requestId, traceparent: headers.traceparent),
                    state: state)
                try await registration.handle(delivery, headers, context)
                switch state.current {
                case .none: try await context.commit { _ in }
                case .failed: throw CommitFailed()
                case .running, .applied, .duplicate: break
                }
                faults.reach(.afterCommit)
                consumer.ack(delivery)
                if storageRetries > 0 { StorageRetryLog.shared.recovered(logger, retries: storageRetries) }
                return state.current == .duplicate ? .duplicate : .handled
            } catch let rejection as EventRejection {
                if committed(state) { return ackAfterCommit(delivery, rejection, logger: logger) }
                return reject(delivery, reason: rejection.reason, logger: logger)
            } catch {
                if committed(state) { return ackAfterCommit(delivery, error, logger: logger) }
                if state.storageFailed || StorageFault.isTransient(error), !Task.isCancelled {
                    // The service's disk, not the event: hold the delivery and try
                    // again here, so that a full disk never dead-letters an event
                    // (a NAK would count towards the group's maxDeliveries).
                    let pause = Self.storagePause(retry: storageRetries)
                    storageRetries += 1
                    consumer.extend(delivery, by: pause + Self.storageHold)
                    RuntimeMetrics.storageRetry(topic: delivery.event.topic)
                    StorageRetryLog.shared.warn(logger, error: error, pause: pause)
                    try? await Task.sleep(for: pause)
                    if !Task.isCancelled { continue }
                }
                let delay = Self.backoff(attempt: delivery.attempt)
                logger.warning(
                    "event handler failed; NAK, redelivered after \(delay)",
                    metadata: ["error": "\(error)", "attempt": "\(delivery.attempt)"])
                consumer.nak(delivery, delay: delay)
                return .failed
            }
        }
    }

    private func committed(_ state: CommitState) -> Bool {
        state.current == .applied || state.current == .duplicate
    }

    /// REJECT (protocol.md §4.10): dead-lettered at once with `reason` as the header `detail`
    /// (the consumer cuts it to 256 bytes at a character boundary).
    private func reject(_ d: Consumer.Delivery, reason: String, logger: Logger) -> RuntimeMetrics.Outcome {
        logger.warning("event rejected: dead-lettered", metadata: ["reason": "\(reason)"])
        consumer.reject(d, reason: reason)
        return .rejected
    }

    private func ackAfterCommit(_ d: Consumer.Delivery, _ error: any Error, logger: Logger) -> RuntimeMetrics.Outcome {
        logger.error(
            "event handler threw after its commit; the effect is durable, so the event is ACKed",
            metadata: ["error": "\(error)"])
        faults.reach(.afterCommit)
        consumer.ack(d)
        return .handled
    }
}

/// The handler swallowed the error of its `commit`: nothing was stored, so retry.
struct CommitFailed: Error, CustomStringConvertible {
    var description: String { "the handler's commit failed (its error was not rethrown)" }
}

/// One warning per second at most while the storage refuses event commits (each
/// retry also counts in `metro_service_storage_retries_total`).
final class StorageRetryLog: Sendable {
    static let shared = StorageRetryLog()
    private let limiter = Mutex(LogLimiter(period: .seconds(1)))
    private let recoveries = Mutex(LogLimiter(period: .seconds(1)))

    func recovered(_ logger: Logger, retries: Int) {
        guard let held = recoveries.withLock({ $0.allow() }) else { return }
        logger.notice(
            "storage works again: a held event committed after \(retries) retries",
            metadata: ["recovered-since-last-line": "\(held)"])
    }

    func warn(_ logger: Logger, error: any Error, pause: Duration) {
        guard let held = limiter.withLock({ $0.allow() }) else { return }
        logger.warning(
            "the storage refused the event's commit; the delivery is held and retried in \(pause)",
            metadata: ["error": "\(error)", "retries-since-last-line": "\(held)"])
    }
}
