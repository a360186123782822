/// The ingest socket's messages (protocol.md §4.2): acknowledged publish.
///
/// ```
/// C: ["metro/1"] ["PUBLISH"] ( [event-id] [topic] [headers] [payload] ){1..256}
/// B: ["metro/1"] ["ACK"] ( [event-id] [seq: u64] ){1..256}
/// B: ["metro/1"] ["ERROR"] [code] [message] [event-id]?
/// ```
///
/// One PUBLISH may carry several events (four frames each), and one ACK several
/// (id, seq) pairs: ZeroMQ's cost is per frame and per message, so batching is
/// what lets acknowledged publish go fast. One event per PUBLISH is the plain case.
package enum IngestCodec {
    /// The most events one PUBLISH may carry.
    package static let maxEventsPerPublish = 256

    package static let publishCommand: [UInt8] = Array("PUBLISH".utf8)
    package static let ackCommand: [UInt8] = Array("ACK".utf8)
    package static let errorCommand: [UInt8] = ErrorReply.command

    /// One PUBLISH, as a client builds it.
    package struct Publish: Sendable, Equatable {
        package var eventID: [UInt8]
        package var topic: String
        package var headers: [UInt8]
        package var payload: [UInt8]

        package init(eventID: [UInt8], topic: String, headers: [UInt8] = [], payload: [UInt8]) {
            self.eventID = eventID
            self.topic = topic
            self.headers = headers
            self.payload = payload
        }

        /// The frames a DEALER sends (no routing id, no delimiter).
        package var frames: [[UInt8]] {
            [WireProtocol.versionBytes, IngestCodec.publishCommand, eventID, Array(topic.utf8), headers, payload]
        }

        /// This event's four frames inside a PUBLISH.
        package var eventFrames: [[UInt8]] { [eventID, Array(topic.utf8), headers, payload] }
    }

    /// One PUBLISH carrying `events` (1 to `maxEventsPerPublish` of them).
    package static func frames(publishing events: some Collection<Publish>) -> [[UInt8]] {
        precondition(!events.isEmpty && events.count <= maxEventsPerPublish)
        var frames = [WireProtocol.versionBytes, publishCommand]
        frames.reserveCapacity(2 + 4 * events.count)
        for e in events { frames += e.eventFrames }
        return frames
    }

    /// What the broker does with a received request.
    package enum Decision: Equatable, Sendable {
        /// A well-formed PUBLISH of `events` events; event k's four frames start at
        /// `offset + 2 + 4k`. Check each with `checkEvent` before storing it.
        case publish(events: Int)
        /// A PUBLISH-PACKED (§4.2.6) whose events frame, at `offset + 2`, holds
        /// `events` events of sound structure. Check each with `checkEvent(id:...)`.
        case publishPacked(events: Int)
        /// Reject with `error`; `eventIDFrame` is the index of the event id frame, when
        /// there is one to echo back as the error's context (§3.1).
        case reject(WireError, eventIDFrame: Int?)
    }

    /// Validates the shape of a request whose version frame is at `offset` (1 behind
    /// a ROUTER's routing id). Touches no allocation on the accepting path.
    ///
    /// `discardedFrames`: frames of the message that arrived past the receiving
    /// buffer's capacity and were dropped unread. They count in the frame-count
    /// checks, so an oversized request gets the same answer, with the same context,
    /// as it would from an unbounded buffer (§3.1).
    @inlinable
    package static func decide(
        _ frames: some FrameSequence, offset: Int, maxPayloadBytes: Int, discardedFrames: Int = 0
    ) -> Decision {
        let n = frames.frameCount - offset + discardedFrames
        // §3.1: every ERROR echoes the third frame (a PUBLISH's first event id) when it
        // is a usable id, whatever the code. Only read on the rejecting paths.
        func context() -> Int? {
            guard n >= 3 else { return nil }
            return echoesID(idLength: frames.withFrame(offset + 2) { $0.count }) ? offset + 2 : nil
        }
        guard n >= 1 else { return .reject(WireError(.malformedMessage, "empty request"), eventIDFrame: nil) }
        guard frames.frameEquals(offset, WireProtocol.versionBytes) else {
            return .reject(
                WireError(.unsupportedVersion, "the first frame must be \"metro/1\""), eventIDFrame: context())
        }
        guard n >= 2 else { return .reject(WireError(.malformedMessage, "missing command frame"), eventIDFrame: nil) }
        guard frames.frameEquals(offset + 1, publishCommand) else {
            guard frames.frameEquals(offset + 1, PackedEvents.publishCommand) else {
                return .reject(
                    WireError(.unknownCommand, "the ingest socket knows only PUBLISH and PUBLISH-PACKED"),
                    eventIDFrame: context())
            }
            // The third frame of a PUBLISH-PACKED is the batch, not an id: no context (§4.2.6).
            guard n == 3 else {
                return .reject(
                    WireError(.malformedMessage, "PUBLISH-PACKED has 3 frames, got \(n)"), eventIDFrame: nil)
            }
            guard let events = frames.withFrame(offset + 2, { PackedEvents.count(in: $0, limit: maxEventsPerPublish) })
            else {
                return .reject(
                    WireError(
                        .malformedMessage,
                        "the events frame is not 1…\(maxEventsPerPublish) packed events ending at its end"),
                    eventIDFrame: nil)
            }
            return .publishPacked(events: events)
        }
        let events = (n - 2) / 4
        guard n >= 6, (n - 2) % 4 == 0, events <= maxEventsPerPublish else {
            return .reject(
                WireError(.malformedMessage, "PUBLISH has 2 + 4×k frames (k = 1…\(maxEventsPerPublish)), got \(n)"),
                eventIDFrame: context())
        }
        return .publish(events: events)
    }

    /// Checks one event of a well-formed PUBLISH, its id frame at `idFrame`: nil if
    /// it may be stored, else the `.reject` to answer for this event alone.
    @inlinable
    package static func checkEvent(_ frames: some FrameSequence, at idFrame: Int, maxPayloadBytes: Int) -> Decision? {
        let error = frames.withFrame(idFrame) { id in
            frames.withFrame(idFrame + 1) { topic in
                checkEvent(
                    id: id, topic: topic, headersCount: frames.withFrame(idFrame + 2) { $0.count },
                    payloadCount: frames.withFrame(idFrame + 3) { $0.count }, maxPayloadBytes: maxPayloadBytes)
            }
        }
        guard let error else { return nil }
        let idLength = frames.withFrame(idFrame) { $0.count }
        return .reject(error, eventIDFrame: echoesID(idLength: idLength) ? idFrame : nil)
    }

    /// Checks one event's fields, framed or packed: nil if it may be stored.
    @inlinable
    package static func checkEvent(
        id: UnsafeRawBufferPointer, topic: UnsafeRawBufferPointer, headersCount: Int, payloadCount: Int,
        maxPayloadBytes: Int
    ) -> WireError? {
        guard id.count > 0 else { return WireError(.missingEventID, "the event id frame is empty") }
        guard id.count <= BrokerLimits.maxEventIDBytes else {
            return WireError(.tooLarge, "the event id has \(id.count) bytes; at most 64")
        }
        if !Topic.isPlainWellFormed(topic), let e = Topic.validatePublishableSlowly(topic) { return e }
        guard headersCount <= BrokerLimits.maxHeadersBytes else {
            return WireError(.tooLarge, "the headers frame has \(headersCount) bytes; at most 65536")
        }
        guard payloadCount <= maxPayloadBytes else {
            return WireError(.tooLarge, "the payload has \(payloadCount) bytes; at most \(maxPayloadBytes)")
        }
        return nil
    }

    /// Whether an event's ERROR carries its id as context: when the id is usable
    /// (1–64 bytes), so a client with many events in flight can match it (§4.2.1).
    @inlinable
    package static func echoesID(idLength: Int) -> Bool { idLength >= 1 && idLength <= BrokerLimits.maxEventIDBytes }

    /// One (event id, seq) pair of an ACK.
    package struct Ack: Equatable, Sendable {
        package var eventID: [UInt8]
        package var seq: UInt64
        package init(eventID: [UInt8], seq: UInt64) {
            self.eventID = eventID
            self.seq = seq
        }
    }

    /// A broker reply, as a client reads it.
    package enum Reply: Equatable, Sendable {
        /// One or more events stored: each id with its seq.
        case acks([Ack])
        case error(WireError, eventID: [UInt8]?)
    }

    /// An ERROR answering a PUBLISH: `ErrorReply`, with the event id as context.
    package static func errorFrames(_ error: WireError, eventID: [UInt8]?) -> [[UInt8]] {
        ErrorReply.frames(error, context: eventID.map { [$0] } ?? [])
    }

    /// Decodes a reply from the broker (DEALER side: no routing id); nil if malformed.
    package static func decodeReply(_ frames: [[UInt8]]) -> Reply? {
        guard frames.count >= 2, frames[0] == WireProtocol.versionBytes else { return nil }
        if frames[1] == ackCommand {
            guard frames.count >= 4, frames.count % 2 == 0 else { return nil }
            var acks: [Ack] = []
            for i in stride(from: 2, to: frames.count, by: 2) {
                guard let seq = BigEndian.uint64(frames[i + 1]) else { return nil }
                acks.append(Ack(eventID: frames[i], seq: seq))
            }
            return .acks(acks)
        }
        if frames[1] == PackedEvents.ackCommand {
            guard frames.count == 3, let acks = PackedEvents.decodeAcks(frames[2]) else { return nil }
            return .acks(acks)
        }
        if frames[1] == errorCommand {
            guard frames.count >= 4, let code = WireErrorCode(frame: frames[2]) else { return nil }
            let message = String(decoding: frames[3], as: UTF8.self)
            return .error(WireError(code, message), eventID: frames.count >= 5 ? frames[4] : nil)
        }
        return nil
    }
}
