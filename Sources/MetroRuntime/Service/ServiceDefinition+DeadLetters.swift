import Foundation
import Logging
import MetroKit
import MetroProtocol

extension ServiceDefinition {
    /// The consumer group in which `onDeadLetters(of: group, …)` takes the dead letters.
    public static func deadLetterGroup(of group: String) -> String { "\(group)-dead-letters" }

    /// Handles the dead letters of `group` whose original topic starts with one of
    /// `topics`: the events that group's handler never finished (`DeadLetter`).
    ///
    /// The handler runs in the consumer group `<group>-dead-letters` on the topic
    /// `$metro.dead.<group>`, with everything an event handler has: one delivery
    /// per dead letter across the service's instances, the inbox (its `commit`
    /// happens once per dead letter), the outbox, NAK and redelivery. A new group
    /// starts at the journal's start, so the first instance that runs it also
    /// settles the dead letters of before. Dead letters of other topics, and those
    /// whose payload does not decode as `E` (garbage dead-lettered for being
    /// garbage names nothing to settle), are ACKed without running the handler;
    /// one whose headers are not the broker's is rejected (dead-lettered in turn,
    /// on `$metro.dead.<group>-dead-letters`).
    ///
    /// Use it to settle what the event was about (fail a job, release a hold, tell
    /// a person), not to run the event again: the broker gave up on it for a reason.
    public mutating func onDeadLetters<E: Decodable & Sendable>(
        of group: String, topics: [String], as: E.Type, concurrency: Int = 1,
        _ handler: @escaping @Sendable (DeadLetter<E>, EventContext) async throws -> Void
    ) {
        precondition(concurrency >= 1, "a dead-letter handler runs at least one at a time")
        precondition(!topics.isEmpty, "a dead-letter handler needs at least one topic prefix")
        let deadTopic = DeadLetterHeaders.topic(of: group)
        var registration = EventHandlerRegistration(
            group: Self.deadLetterGroup(of: group), topics: [deadTopic], concurrency: concurrency, schemaMajor: 1,
            handle: { delivery, _, context in
                // A prefix subscription: `$metro.dead.<group>X` is another group's.
                guard delivery.event.topic == deadTopic else { return }
                let headers: DeadLetterHeaders
                switch DeadLetterHeaders.decode(delivery.event.headers) {
                case .success(let h): headers = h
                case .failure(let e): throw EventRejection(e.description)
                }
                guard topics.contains(where: { headers.topic.hasPrefix($0) }) else { return }
                let payload: E
                do {
                    payload = try StrictEventDecoder.decode(E.self, from: delivery.event.payload)
                } catch {
                    // Most often why it was dead-lettered (garbage on the topic):
                    // it names nothing this service holds, so nothing to settle.
                    return context.logger.info(
                        "a dead letter whose payload does not decode: nothing to settle",
                        metadata: ["reason": "\(headers.reason)", "error": "\(error)"])
                }
                let letter = DeadLetter(
                    payload: payload, topic: headers.topic,
                    seq: headers.seq, eventID: delivery.event.eventID, group: headers.group,
                    reason: DeadLetter<E>.Reason(headers.reason), deliveries: headers.deliveries,
                    detail: headers.detail, deadLetterSeq: delivery.seq)
                try await handler(letter, context)
            })
        registration.readsDeadLetters = true
        eventHandlers.append(registration)
    }
}
