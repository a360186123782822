import Logging
import MetroKit
import MetroProtocol

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
        let headers: EventHeaders
        switch EventHeaders.decode(delivery.event.headers) {
        case .success(let h): headers = h
        case .failure(let e): return reject(delivery, reason: e.description, logger: logger)
        }
        if let id = headers.requestId { logger[metadataKey: "request-id"] = "\(id)" }
        guard let major = headers.schemaMajor, major == registration.schemaMajor else {
            return reject(
                delivery,
                reason:
                    "schema \"\(headers.schema)\" is not major \(registration.schemaMajor), the one this handler reads",
                logger: logger)
        }
        let state = CommitState()
        do {
            if checksEveryDelivery || delivery.attempt > 1,
                try await store.alreadyHandled(group: registration.group, delivery.event.eventID)
            {
                consumer.ack(delivery)
                logger.debug("duplicate delivery: its effect has committed; ACKed")
                return .duplicate
            }
            logger.debug("handling event", metadata: ["attempt": "\(delivery.attempt)"])
            let context = EventContext(
                logger: logger, store: store, group: registration.group, eventID: delivery.event.eventID,
                topic: delivery.event.topic,
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
            return state.current == .duplicate ? .duplicate : .handled
        } catch let rejection as EventRejection {
            if committed(state) { return ackAfterCommit(delivery, rejection, logger: logger) }
            return reject(delivery, reason: rejection.reason, logger: logger)
        } catch {
            if committed(state) { return ackAfterCommit(delivery, error, logger: logger) }
            let delay = Self.backoff(attempt: delivery.attempt)
            logger.warning(
                "event handler failed; NAK, redelivered after \(delay)",
                metadata: ["error": "\(error)", "attempt": "\(delivery.attempt)"])
            consumer.nak(delivery, delay: delay)
            return .failed
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
