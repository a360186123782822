import MetroProtocol
import ZeroMQ

/// The broker's replies on the ingest (ROUTER) socket (protocol.md §4.2): ACKs,
/// framed or packed, written pair by pair without copying (`AckWriter` drives it),
/// and ERRORs through the one `ErrorReply` encoder. Every send is non-blocking; a
/// reply that cannot go is counted by cause (`ack_hwm`, `ack_unroutable`,
/// `reply_unroutable`).
///
/// Threading: owned by the broker's loop thread, which owns the socket.
final class IngestReplies {
    let socket: Socket
    private let counters: BrokerCounters

    init(socket: Socket, counters: BrokerCounters) {
        self.socket = socket
        self.counters = counters
    }

    /// Queues the head of an ACK (or ACK-PACKED) to `routing`: `false` (counted)
    /// if it cannot go.
    func startAck(routing: UnsafeRawBufferPointer, packed: Bool) -> Bool {
        do {
            guard try socket.trySend(routing, flags: .more) else {
                counters.drop(.ackHighWaterMark)
                return false
            }
            // Once the first frame is queued, the rest of the message is accepted.
            try socket.send(AckFrames.version, flags: .more)
            try socket.send(packed ? AckFrames.packedCommand : AckFrames.command, flags: .more)
            return true
        } catch {
            counters.drop(.ackUnroutable)
            return false
        }
    }

    /// One (id, seq) pair of a started ACK; `last` ends the message.
    func sendPair(seq: UInt64, eventID: UnsafeRawBufferPointer, last: Bool) {
        do {
            try socket.send(eventID, flags: .more)
            var big = seq.bigEndian
            try withUnsafeBytes(of: &big) { (raw) throws(ZMQError) in try socket.send(raw, flags: last ? [] : .more) }
            counters.acked &+= 1
        } catch {
            counters.drop(.ackUnroutable)
        }
    }

    /// The body of an ACK-PACKED holding `count` pairs; ends the message.
    func sendPackedAcks(_ body: UnsafeRawBufferPointer, count: Int) {
        do {
            try socket.send(body, flags: [])
            counters.acked &+= UInt64(count)
        } catch {
            counters.drop(.ackUnroutable)
        }
    }

    /// Answers `routing` with ERROR (§3.1), `eventID` as its context; counted as
    /// rejected. `cause`: what a reply that cannot go counts as.
    func reject(
        _ error: WireError, eventID: [UInt8]?, routing: [UInt8], onDrop cause: BrokerCounters.DropCause
    ) {
        counters.rejected &+= 1
        do {
            if try socket.trySend(multipart: [routing] + IngestCodec.errorFrames(error, eventID: eventID)) { return }
            // A full queue: an ACK's ERROR counts as the ACK would have.
            counters.drop(cause == .ackUnroutable ? .ackHighWaterMark : cause)
        } catch {
            counters.drop(cause)
        }
    }
}
