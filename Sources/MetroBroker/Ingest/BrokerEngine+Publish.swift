import MetroProtocol
import ZeroMQ

/// Fire-and-forget publish on the XSUB socket (protocol.md §4.3): each well-formed
/// event goes through the event log (seq, journal, fan-out); a bad one is dropped
/// and counted by cause. Loop thread only.
extension BrokerEngine {
    // Slots of `publishBuffer`: 0 topic, 1 headers or payload, 2 payload; scratch 4 envelope.
    private static let publishEnvelopeSlot = 4
    /// The clock is read once per this many events (a vDSO call cost ~6% of the
    /// loop here): events read together within a few microseconds share a time.
    static let clockEvery = 32

    /// Reads up to `batchLimit` fire-and-forget events without blocking.
    func drainPublish() throws {
        let buffer = publishBuffer
        let log = log
        var n = 0
        var now: UInt64 = 0
        while n < batchLimit, try buffer.receive(from: publish) {
            if n % Self.clockEvery == 0 { now = clock() }
            n += 1
            counters.received &+= 1
            if buffer.discardedFrames > 0 {
                counters.drop(.publishMalformed)
                continue
            }
            if let cause = PublishCodec.check(buffer, maxPayloadBytes: maxPayloadBytes) {
                counters.drop(BrokerCounters.DropCause(cause))
                continue
            }
            if let permissions {
                let grant = permissions.grant(buffer, frame: 0)
                let topic = buffer.unsafeFrame(0)
                if !BrokerPermissions.mayPublish(grant, topic: topic) {
                    _ = permissions.deniedPublish(grant, topic: topic)
                    counters.drop(.publishForbidden)
                    continue
                }
            }
            let noBytes = UnsafeRawBufferPointer(start: nil, count: 0)
            let headers = buffer.count == 3 ? buffer.unsafeFrame(1) : noBytes
            do throws(JournalError) {
                _ = try log.append(
                    buffer, topic: 0, payload: buffer.count - 1, envelope: Self.publishEnvelopeSlot, time: now,
                    id: noBytes, headers: headers)
            } catch {
                appendFailed(error)
                counters.drop(.publishJournalFailure)
                // After a failed sync nothing more is taken (§4.2.7).
                if storageFailure != nil { return }
            }
        }
    }
}
