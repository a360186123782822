import MetroProtocol

/// Every number of the broker's configuration has a documented range
/// (Broker/broker.yaml) that keeps the broker's arithmetic on it from
/// overflowing: milliseconds and hours become nanoseconds in a u64, sizes
/// become libzmq's `int` options. A value out of its range stops the broker at
/// start with an error that names the key, instead of a trap later.
extension BrokerConfiguration {
    /// A configuration value outside its range.
    package struct InvalidValue: Error, Hashable, Sendable, CustomStringConvertible {
        /// The key as written in broker.yaml, e.g. `journal.fsyncIntervalMs`.
        package let key: String
        package let value: String
        package let allowed: String

        package var description: String { "broker configuration: \(key) is \(value); allowed: \(allowed)" }
    }

    /// The fixed cost, beyond its frames' bytes, of one event queued for one
    /// subscriber inside libzmq (three `zmq_msg_t`s in the pipe, the payload's
    /// reference-counted block and allocator rounding), measured with a stalled
    /// subscriber (docs/operations.md, "Memory a client can make the broker hold").
    package static let queuedEventOverheadBytes = 1024

    /// The most bytes one event can occupy in a subscriber's queue: the largest
    /// payload, headers, id and topic the broker accepts, its envelope and
    /// `queuedEventOverheadBytes`.
    package var largestQueuedEventBytes: Int {
        limits.maxPayloadBytes + BrokerLimits.maxHeadersBytes + BrokerLimits.maxEventIDBytes + Topic.maxBytes
            + EventEnvelope.size(idCount: 0, headersCount: 0) + Self.queuedEventOverheadBytes
    }

    /// The events socket's send high-water mark (per subscriber): the configured
    /// `limits.eventsHighWaterMark`, or, when that is 0, as many of the largest
    /// events as fit in `limits.subscriberBufferBytes`.
    package var eventsHighWaterMark: Int {
        if limits.eventsHighWaterMark > 0 { return limits.eventsHighWaterMark }
        return max(1, Int(min(limits.subscriberBufferBytes / Int64(largestQueuedEventBytes), Int64(Int32.max))))
    }

    /// Checks every numeric value against its range; throws the first one outside.
    package func validate() throws(InvalidValue) {
        let int32Max = Int(Int32.max)
        func check(_ key: String, _ value: Int, _ range: ClosedRange<Int>) throws(InvalidValue) {
            guard range.contains(value) else {
                throw InvalidValue(key: key, value: "\(value)", allowed: "\(range.lowerBound)...\(range.upperBound)")
            }
        }
        func check64(_ key: String, _ value: Int64, _ range: ClosedRange<Int64>) throws(InvalidValue) {
            guard range.contains(value) else {
                throw InvalidValue(key: key, value: "\(value)", allowed: "\(range.lowerBound)...\(range.upperBound)")
            }
        }
        try check64("journal.segmentBytes", journal.segmentBytes, 4096...(1 << 40))
        try check("journal.fsyncIntervalMs", journal.fsyncIntervalMs, 1...60_000)
        try check64("journal.retention.maxBytes", journal.retention.maxBytes, 0...(1 << 60))
        try check("journal.retention.maxAgeHours", journal.retention.maxAgeHours, 0...876_000)
        try check("journal.scrubIntervalSeconds", journal.scrubIntervalSeconds, 0...31_536_000)
        try check64("journal.scrubBytesPerSecond", journal.scrubBytesPerSecond, (1 << 20)...(1 << 40))
        // A frame is at most maxPayloadBytes + 64 KiB (ZMQ_MAXMSGSIZE), and a
        // journal record stores the payload's length as a u32.
        try check("limits.maxPayloadBytes", limits.maxPayloadBytes, 1...(1 << 30))
        try check("limits.sendHighWaterMark", limits.sendHighWaterMark, 0...int32Max)
        try check("limits.receiveHighWaterMark", limits.receiveHighWaterMark, 0...int32Max)
        try check("limits.eventsHighWaterMark", limits.eventsHighWaterMark, 0...int32Max)
        try check64("limits.subscriberBufferBytes", limits.subscriberBufferBytes, 1...(1 << 50))
        if limits.eventsHighWaterMark > 0 {
            let worst = Int64(limits.eventsHighWaterMark) * Int64(largestQueuedEventBytes)
            guard worst <= limits.subscriberBufferBytes else {
                throw InvalidValue(
                    key: "limits.eventsHighWaterMark", value: "\(limits.eventsHighWaterMark)",
                    allowed:
                        "at most \(limits.subscriberBufferBytes / Int64(largestQueuedEventBytes)): that many events of "
                        + "up to \(largestQueuedEventBytes) bytes (limits.maxPayloadBytes plus headers, id, topic "
                        + "and \(Self.queuedEventOverheadBytes) bytes of queueing) fill limits.subscriberBufferBytes "
                        + "(\(limits.subscriberBufferBytes)); raise that, lower limits.maxPayloadBytes, or set 0 "
                        + "to derive the mark")
            }
        }
        try check("limits.replayIdleMs", limits.replayIdleMs, 1...86_400_000)
        try check("dedupe.windowSeconds", dedupe.windowSeconds, 0...86_400 * 365)
        try check("dedupe.maxEntries", dedupe.maxEntries, 1...100_000_000)
        try check("heartbeatIntervalMs", heartbeatIntervalMs, 1...3_600_000)
        try check("lingerMs", lingerMs, 0...3_600_000)
        if security.curve {
            for (key, value) in [
                ("security.secretKeyFile", security.secretKeyFile), ("security.allowList", security.allowList),
            ]
            where value.isEmpty {
                throw InvalidValue(key: key, value: "empty", allowed: "a file path when security.curve is true")
            }
        }
    }
}
