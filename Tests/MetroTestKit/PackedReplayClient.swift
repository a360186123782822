import Foundation
package import MetroProtocol
package import ZeroMQ

/// A packed replay (protocol.md §4.9.2) run to its end by a raw DEALER, as a
/// foreign client would: the events of each EVENT-PACKED frame, the frames'
/// sizes, the end, and whether the broker ever sent more events than granted.
package struct PackedReplayOutcome: Sendable {
    /// Each EVENT-PACKED frame's events, in arrival order.
    package var frames: [[LiveEvent]] = []
    /// Each frame's size in bytes (its records).
    package var frameBytes: [Int] = []
    package var caughtUp: UInt64?
    package var error: WireError?
    package var errorContext: (id: [UInt8]?, seq: UInt64?) = (nil, nil)
    /// More events arrived than the credit granted (a protocol violation).
    package var creditExceeded = false
    /// A frame that did not decode (§4.9.2: damaged as a whole).
    package var damaged = false

    package var events: [LiveEvent] { frames.flatMap { $0 } }
}

/// Runs `request` in the packed form with `batchBytes`, granting `grant` more
/// events each time `grant` have arrived (`window` at the start); throws after 5 s
/// of silence or `timeout` in all.
package func packedReplay(
    on endpoint: String, _ request: ReplayCodec.Request, batchBytes: UInt32, window: UInt32 = 100,
    timeout: Duration = .seconds(30)
) async throws -> PackedReplayOutcome {
    try await offPool {
        let s = try testContext.socket(.dealer)
        defer { s.close() }
        try s.set(.receiveTimeout(milliseconds: 5000))
        try s.connect(endpoint)
        var request = request
        request.credit = window
        request.packing = batchBytes
        try s.send(multipart: request.frames)
        var out = PackedReplayOutcome()
        let half = UInt64(max(1, window / 2))
        var granted = UInt64(window), received: UInt64 = 0, sinceGrant: UInt64 = 0
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            guard let frames = try s.receiveMultipart() else { throw WaitError.timedOut("packed replay stream") }
            switch ReplayCodec.decodeReply(frames) {
            case .packed(let id, let records)?:
                precondition(id == request.id)
                guard let events = PackedReplay.events(records) else {
                    out.damaged = true
                    return out
                }
                out.frames.append(events)
                out.frameBytes.append(records.count)
                received += UInt64(events.count)
                sinceGrant += UInt64(events.count)
                if received > granted { out.creditExceeded = true }
                while sinceGrant >= half {  // credit counts events, not frames
                    try s.send(multipart: ReplayCodec.creditFrames(id: request.id, credit: UInt32(half)))
                    granted += half
                    sinceGrant -= half
                }
            case .caughtUp(_, let last)?:
                out.caughtUp = last
                return out
            case .error(let e, let id, let earliest)?:
                out.error = e
                out.errorContext = (id, earliest)
                return out
            case .event?, nil:
                throw WaitError.unexpected("not a packed replay message \(frames.map { Hex.encode($0) })")
            }
        }
        throw WaitError.timedOut("packed replay did not finish")
    }
}
