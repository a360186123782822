import ArgumentParser
import Foundation
import MetroProtocol
import ZeroMQ

/// Where `metro tail` starts: live only, or replay from a seq (`--from SEQ`,
/// `--from earliest`) or from a time (`--since 5m`, or an ISO 8601 time) first. A time becomes the
/// seq of the first event the journal holds at or after it, asked of the broker
/// with a one-event replay by time (protocol.md §4.9); the subscriber then
/// replays from that seq and goes live without a gap or a duplicate at the seam.
enum TailStart: Equatable {
    case live
    case seq(UInt64)
    case since(Duration)
    /// A wall-clock time, nanoseconds since the Unix epoch (`--since 2026-12-02T05:00:00Z`).
    case sinceTime(UInt64)

    /// `--from` and `--since`, at most one of them.
    static func parse(from: String?, since: String?) throws -> TailStart {
        switch (from, since) {
        case (nil, nil): return .live
        case (.some, .some): throw ValidationError("give --from or --since, not both")
        case (let f?, nil):
            if f == "earliest" { return .seq(0) }
            guard let seq = UInt64(f) else { throw ValidationError("--from takes a seq or earliest, got \(f)") }
            return .seq(seq)
        case (nil, let s?):
            if let d = parseDuration(s) { return .since(d) }
            if let ns = parseTime(s) { return .sinceTime(ns) }
            throw ValidationError(
                "--since takes a duration like 90s, 5m, 2h or 1d, or an ISO 8601 time (2026-12-02T05:00:00Z), got \(s)")
        }
    }

    /// `250ms`, `90s`, `5m`, `2h`, `1d` (a whole number and a unit).
    static func parseDuration(_ text: String) -> Duration? {
        let digits = text.prefix { $0.isNumber }
        guard let n = Int64(digits), n >= 0 else { return nil }
        switch text.dropFirst(digits.count) {
        case "ms": return .milliseconds(n)
        case "s": return .seconds(n)
        case "m": return .seconds(n * 60)
        case "h": return .seconds(n * 3600)
        case "d": return .seconds(n * 86_400)
        default: return nil
        }
    }

    /// An ISO 8601 time with a zone, with or without fractional seconds.
    static func parseTime(_ text: String) -> UInt64? {
        let formatter = ISO8601DateFormatter()
        for options: ISO8601DateFormatter.Options in [
            [.withInternetDateTime, .withFractionalSeconds], [.withInternetDateTime],
        ] {
            formatter.formatOptions = options
            if let date = formatter.date(from: text), date.timeIntervalSince1970 > 0 {
                return UInt64(date.timeIntervalSince1970 * 1e9)
            }
        }
        return nil
    }

    struct LookupFailed: Error, CustomStringConvertible {
        let description: String
    }

    /// The seq to replay from, for `.seq` and `.since`; nil for `.live`.
    func startSeq(consume: String, timeout: Duration, curve: CurveCredentials? = nil) async throws -> UInt64? {
        switch self {
        case .live: return nil
        case .seq(let s): return s
        case .since(let ago):
            let nowNs = UInt64(Date().timeIntervalSince1970 * 1e9)
            let agoNs =
                UInt64(ago.components.seconds) * 1_000_000_000 + UInt64(ago.components.attoseconds / 1_000_000_000)
            let from = nowNs > agoNs ? nowNs - agoNs : 1
            return try await Self.firstSeq(atOrAfter: from, consume: consume, timeout: timeout, curve: curve)
        case .sinceTime(let ns):
            return try await Self.firstSeq(atOrAfter: ns, consume: consume, timeout: timeout, curve: curve)
        }
    }

    /// One REPLAY "time" with credit 1 on a thread of its own: the first event's
    /// seq, or the caught-up seq + 1 when nothing is that recent.
    static func firstSeq(
        atOrAfter timeNs: UInt64, consume: String, timeout: Duration, curve: CurveCredentials?
    ) async throws -> UInt64 {
        let result = Mutexed<Result<UInt64, any Error>>(.failure(LookupFailed(description: "not asked")))
        let thread = DedicatedThread(name: "metro-tail-since") {
            result.set(Result { try lookup(timeNs, consume: consume, timeout: timeout, curve: curve) })
        }
        thread.start()
        await thread.join()
        return try result.get().get()
    }

    private static func lookup(
        _ timeNs: UInt64, consume: String, timeout: Duration, curve: CurveCredentials?
    ) throws -> UInt64 {
        let context = try Context(ioThreads: 1, defaultLingerMilliseconds: 0)
        let socket = try context.socket(.dealer)
        defer { socket.close() }
        if let curve { try socket.makeCurveClient(curve) }
        try socket.set(.receiveTimeout(milliseconds: Int(timeout.inMilliseconds)))
        try socket.connect(consume)
        let id = Array("tail-since".utf8)
        try socket.send(multipart: ReplayCodec.Request(id: id, start: .time(timeNs), credit: 1).frames)
        guard let frames = try socket.receiveMultipart() else {
            throw LookupFailed(
                description: "no answer from the broker at \(consume) within \(timeout)"
                    + ZMTPMechanismProbe.silenceReason(consume, curve: curve != nil))
        }
        switch ReplayCodec.decodeReply(frames) {
        case .event(_, let event)?:
            try socket.send(multipart: ReplayCodec.cancelFrames(id: id))
            return event.seq
        case .caughtUp(_, let last)?:
            return last + 1
        case .error(let error, _, _)?:
            throw LookupFailed(description: "the broker refused the replay: \(error)")
        case nil, .packed?:  // a per-event REPLAY gets no EVENT-PACKED (§4.9.2)
            throw LookupFailed(description: "an answer that is not a replay reply (protocol.md §4.9)")
        }
    }
}

/// A value handed from a thread to the task that awaits it.
final class Mutexed<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func set(_ v: Value) { lock.withLock { value = v } }
    func get() -> Value { lock.withLock { value } }
}
