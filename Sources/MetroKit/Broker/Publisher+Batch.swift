import MetroProtocol

extension Publisher {
    /// One event of a `publish(batch:)`.
    public struct Event: Sendable, Equatable {
        public var topic: String
        public var payload: [UInt8]
        public var headers: [UInt8]
        /// 1–64 bytes; the same id again makes a publish idempotent (the broker's dedupe window).
        public var eventID: [UInt8]

        public init(topic: String, payload: [UInt8], headers: [UInt8] = [], eventID: [UInt8]) {
            self.topic = topic
            self.payload = payload
            self.headers = headers
            self.eventID = eventID
        }
    }

    /// Publishes `events` with acknowledged publish, all in flight at once (as far
    /// as `window` allows), and returns each one's outcome, in the order given:
    /// its seq once journaled, or why it failed (`.rejected`, `.timedOut`,
    /// `.closed`, `CancellationError`).
    ///
    /// The events reach the I/O thread in one command and go out in this order,
    /// packed into PUBLISH-PACKED requests (protocol.md §4.2.6): the broker gives
    /// them increasing seqs in this order. A batch costs one broker round trip
    /// (one journal sync) instead of one per event, which is what the runtime's
    /// outbox relay needs. Retries after `ackTimeout` go one by one, and may
    /// reach the broker out of order; the seqs of those first sent stay first.
    ///
    /// Throws only before sending anything: `.invalidArgument` for an id that is
    /// not 1–64 bytes, `CancellationError` if the task is already cancelled.
    /// Cancelling the task while it waits fails the events not yet ACKed with
    /// `CancellationError` (they may still be stored; retry with the same ids).
    public func publish(batch events: [Event]) async throws -> [Result<UInt64, any Error>] {
        guard !events.isEmpty else { return [] }
        let requests = try events.map { e in
            try Self.checkID(e.eventID)
            return IngestCodec.Publish(eventID: e.eventID, topic: e.topic, headers: e.headers, payload: e.payload)
        }
        try Task.checkCancellation()
        let io = self.io
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let reply = BatchReply(count: requests.count, continuation: continuation)
                if !io.send(.publishBatch(requests, reply)) {
                    for i in requests.indices { reply.set(i, .failure(MetroClientError.closed("publish"))) }
                }
            }
        } onCancel: {
            for request in requests { io.send(.cancel(request.eventID)) }
        }
    }
}
