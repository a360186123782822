import Foundation
import MetroProtocol
import ZeroMQ

/// Reads events back from the broker's journal by replay (protocol.md §4.9):
/// every held event on some topic prefixes, from a seq up to the head as it is
/// when the replay starts, under a credit window. For operator tools that treat
/// the journal as the source of truth (`metro dlq`). The socket lives on a
/// thread of its own, so the caller's task never blocks the cooperative pool.
struct JournalReader: Sendable {
    let consume: String
    let timeout: Duration
    /// CURVE to a secure broker; nil: plain ZMTP.
    var curve: CurveCredentials? = nil

    struct Failed: Error, CustomStringConvertible {
        let description: String
    }

    /// Every held event matching `prefixes` with seq in `from...to` (`to` 0: up to the head),
    /// or the first `limit` of them (0: no limit).
    func events(prefixes: [String], from: UInt64 = 0, to: UInt64 = 0, limit: Int = 0) async throws -> [LiveEvent] {
        let result = Mutexed<Result<[LiveEvent], any Error>>(.failure(Failed(description: "not read")))
        let thread = DedicatedThread(name: "metro-journal-reader") {
            result.set(Result { try read(prefixes: prefixes, from: from, to: to, limit: limit) })
        }
        thread.start()
        await thread.join()
        return try result.get().get()
    }

    private func read(prefixes: [String], from: UInt64, to: UInt64, limit: Int) throws -> [LiveEvent] {
        let window: UInt32 = 512
        let context = try Context(ioThreads: 1, defaultLingerMilliseconds: 0)
        let socket = try context.socket(.dealer)
        defer { socket.close() }
        if let curve { try socket.makeCurveClient(curve) }
        try socket.set(.receiveTimeout(milliseconds: Int(timeout.inMilliseconds)))
        try socket.connect(consume)
        let id = Array("metro-journal-reader".utf8)
        let request = ReplayCodec.Request(
            id: id, start: .seq(from), toSeq: to, credit: window, prefixes: prefixes.map { Array($0.utf8) })
        try socket.send(multipart: request.frames)
        var events: [LiveEvent] = []
        while true {
            guard let frames = try socket.receiveMultipart() else {
                throw Failed(
                    description: "no answer from the broker at \(consume) within \(timeout)"
                        + ZMTPMechanismProbe.silenceReason(consume, curve: curve != nil))
            }
            switch ReplayCodec.decodeReply(frames) {
            case .event(_, let event)?:
                events.append(event)
                if limit > 0 && events.count >= limit {
                    // CANCEL, so the broker ends the replay now rather than when it idles out;
                    // a short linger lets it leave before the context ends.
                    try socket.set(.linger(milliseconds: 200))
                    try socket.send(multipart: ReplayCodec.cancelFrames(id: id))
                    return events
                }
                if events.count % Int(window / 2) == 0 {
                    try socket.send(multipart: ReplayCodec.creditFrames(id: id, credit: window / 2))
                }
            case .caughtUp?:
                return events
            case .error(let error, _, let earliest)?:
                if error.code == .sequenceOutOfRange, let earliest, events.isEmpty, from > 0 {
                    // The start is below what retention kept: read from the earliest held.
                    return try read(prefixes: prefixes, from: earliest, to: to, limit: limit)
                }
                throw Failed(description: "the broker ended the replay: \(error)")
            case nil, .packed?:  // a per-event REPLAY gets no EVENT-PACKED (§4.9.2)
                throw Failed(description: "an answer that is not a replay reply (protocol.md §4.9)")
            }
        }
    }
}
