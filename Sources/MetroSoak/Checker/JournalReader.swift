import Foundation
import MetroProtocol
import Synchronization
public import ZeroMQ

/// What a read-back of the journal gave: the events in the order the broker sent
/// them (not re-sorted: the seq invariant checks that order), and how it ended.
public struct JournalReadBack: Sendable, Equatable {
    public var entries: [JournalEntry] = []
    /// The broker's CAUGHT-UP `last-seq` (protocol.md §4.9); nil when the read did not end there.
    public var caughtUpSeq: UInt64?
    /// Ranges retention removed before they were read (ERROR 204): `from...earliest-1`.
    public var lostRanges: [ClosedRange<UInt64>] = []
    /// Why the read stopped short, if it did (a timeout, an ERROR other than 204).
    public var failure: String?

    public init(entries: [JournalEntry] = [], caughtUpSeq: UInt64? = nil, failure: String? = nil) {
        self.entries = entries
        self.caughtUpSeq = caughtUpSeq
        self.failure = failure
    }
}

/// Reads a range of the journal back with one raw replay (protocol.md §4.9), as a
/// foreign client would: REPLAY from a seq, CREDIT every half window, until
/// CAUGHT-UP. It deliberately does not use MetroKit's gap-filling `Subscriber`,
/// which drops out-of-order seqs and so would hide what `seqs-increase-ids-unique`
/// looks for. The DEALER lives on a thread of its own (`DedicatedThread`); the
/// caller awaits without blocking the cooperative pool.
public enum JournalReader {
    /// Events with `from` ≤ seq ≤ `to` (0: up to the head), of `prefixes` (none: every topic).
    public static func read(
        replay endpoint: String, from: UInt64, to: UInt64 = 0, prefixes: [String] = [],
        silence: Duration = .seconds(10), curve: CurveCredentials? = nil
    ) async -> JournalReadBack {
        let result = Mutex(JournalReadBack(failure: "not read"))
        let thread = DedicatedThread(name: "soak-readback") {
            let r = readBlocking(endpoint, from: from, to: to, prefixes: prefixes, silence: silence, curve: curve)
            result.withLock { $0 = r }
        }
        thread.start()
        await thread.join()
        return result.withLock { $0 }
    }

    private static let window: UInt32 = 2000

    private static func readBlocking(
        _ endpoint: String, from: UInt64, to: UInt64, prefixes: [String], silence: Duration,
        curve: CurveCredentials?
    ) -> JournalReadBack {
        var out = JournalReadBack()
        do {
            let context = try Context(ioThreads: 1, defaultLingerMilliseconds: 0)
            let socket = try context.socket(.dealer)
            defer { socket.close() }
            if let curve { try socket.makeCurveClient(curve) }
            try socket.set(.receiveTimeout(milliseconds: Int(clamping: silence.inMilliseconds)))
            try socket.connect(endpoint)
            var start = from
            // A 204 in the middle restarts the read at the earliest seq still held.
            while let next = try readOnce(socket, from: start, to: to, prefixes: prefixes, into: &out) {
                start = next
            }
        } catch {
            out.failure = "\(error)"
        }
        return out
    }

    /// One REPLAY to its end; returns the seq to read again from after a 204, else nil.
    private static func readOnce(
        _ socket: Socket, from: UInt64, to: UInt64, prefixes: [String], into out: inout JournalReadBack
    ) throws -> UInt64? {
        let id = Array("soak-readback-\(from)".utf8)
        let request = ReplayCodec.Request(
            id: id, start: .seq(from), toSeq: to, credit: window, prefixes: prefixes.map { Array($0.utf8) })
        try socket.send(multipart: request.frames)
        var received: UInt64 = 0
        while true {
            guard let frames = try socket.receiveMultipart() else {
                out.failure = "the broker sent nothing for a while during the read-back (after \(received) events)"
                return nil
            }
            switch ReplayCodec.decodeReply(frames) {
            case .event(_, let event)?:
                out.entries.append(JournalEntry(event: event))
                received += 1
                if received % UInt64(window / 2) == 0 {
                    try socket.send(multipart: ReplayCodec.creditFrames(id: id, credit: window / 2))
                }
            case .caughtUp(_, let last)?:
                out.caughtUpSeq = last
                return nil
            case .error(let error, _, let earliest?)? where error.code == .sequenceOutOfRange:
                let lostFrom = out.entries.last.map { $0.seq + 1 } ?? from
                if earliest > lostFrom { out.lostRanges.append(lostFrom...(earliest - 1)) }
                guard earliest > from else {
                    out.failure = "the broker answered 204 with earliest seq \(earliest) at \(from)"
                    return nil
                }
                return earliest
            case .error(let error, _, _)?:
                out.failure = "the broker ended the read-back with \(error)"
                return nil
            case nil, .packed?:  // a per-event REPLAY gets no EVENT-PACKED (§4.9.2)
                out.failure = "an answer that is not a replay reply (protocol.md §4.9)"
                return nil
            }
        }
    }
}
