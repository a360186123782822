import MetroProtocol

/// The constant frames of an ACK, as raw bytes that live as long as the process.
enum AckFrames {
    nonisolated(unsafe) static let version = constant(WireProtocol.versionBytes)
    nonisolated(unsafe) static let command = constant(IngestCodec.ackCommand)
    nonisolated(unsafe) static let packedCommand = constant(PackedEvents.ackCommand)

    private static func constant(_ bytes: [UInt8]) -> UnsafeRawBufferPointer {
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 1)
        storage.copyBytes(from: bytes)
        return UnsafeRawBufferPointer(storage)
    }
}

/// Groups consecutive ACKs of one batch into one message (§4.2.1, §4.2.6).
/// Framed: the pair in hand is sent when the next ACK arrives (more frames follow
/// if it belongs to the same batch) or at `finish`. Packed: pairs gather in one
/// frame, sent when the batch changes or at `finish`. Event ids are copied
/// because the ledger's bytes are only lent for the visit.
struct AckWriter {
    private var open = false
    private var openBatch: UInt64 = 0
    private var openPacked = false
    private var heldSeq: UInt64 = 0
    private var heldID: [UInt8] = []
    private var hasHeld = false
    private var packedBody: [UInt8] = []
    private var packedCount = 0

    mutating func add(
        _ ack: BrokerEngine.PendingAck, routing: UnsafeRawBufferPointer, eventID: UnsafeRawBufferPointer,
        replies: IngestReplies
    ) {
        let continues = open && ack.batch != 0 && ack.batch == openBatch
        if !continues {
            finish(replies: replies)
            open = replies.startAck(routing: routing, packed: ack.packed)
            openBatch = ack.batch
            openPacked = ack.packed
        } else if hasHeld {
            sendHeld(last: false, replies: replies)
        }
        guard open else { return }
        if openPacked {
            PackedEvents.appendAck(&packedBody, id: eventID, seq: ack.seq)
            packedCount += 1
        } else {
            heldSeq = ack.seq
            heldID.removeAll(keepingCapacity: true)
            heldID.append(contentsOf: eventID)
            hasHeld = true
        }
    }

    /// Ends the open message, if any.
    mutating func finish(replies: IngestReplies) {
        guard open else { return }
        if openPacked {
            packedBody.withUnsafeBytes { replies.sendPackedAcks($0, count: packedCount) }
            packedBody.removeAll(keepingCapacity: true)
            packedCount = 0
        } else if hasHeld {
            sendHeld(last: true, replies: replies)
        }
        open = false
    }

    private mutating func sendHeld(last: Bool, replies: IngestReplies) {
        heldID.withUnsafeBytes { replies.sendPair(seq: heldSeq, eventID: $0, last: last) }
        hasHeld = false
    }
}
