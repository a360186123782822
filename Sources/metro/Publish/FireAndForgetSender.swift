import Foundation
import ZeroMQ

#if canImport(Glibc)
    import Glibc
#endif

/// `metro publish --fire-and-forget`: the PUB path of protocol.md §4.3, from an
/// XPUB socket on a thread of its own, done as §4.3 says a client should: wait
/// for the broker's subscription (the connection is up), then send, with
/// `ZMQ_XPUB_NODROP` so that a full pipe makes it wait instead of dropping, and
/// close with a linger so that what was sent leaves before the process exits.
struct FireAndForgetSender: Sendable {
    let endpoint: String
    let topic: String
    let headers: [UInt8]
    let count: Int
    let rate: Double
    let connectTimeout: Duration
    /// CURVE to a secure broker; nil: plain ZMTP.
    var curve: CurveCredentials? = nil
    /// Set by Ctrl-C: nothing more is sent.
    var interruption: PublishInterruption? = nil

    struct NoBroker: Error, CustomStringConvertible {
        let description: String
    }

    /// Sends `count` payloads from `maker`; runs on a dedicated thread and suspends the caller meanwhile.
    func run(_ maker: PayloadMaker, stats: PublishStats) async throws {
        let failure = FailureBox()
        let thread = DedicatedThread(name: "metro-publish-ff") {
            do { try send(maker, stats: stats) } catch { failure.set(error) }
        }
        thread.start()
        await thread.join()
        if let error = failure.get() { throw error }
    }

    private func send(_ initial: PayloadMaker, stats: PublishStats) throws {
        var maker = initial
        let context = try Context(ioThreads: 1, defaultLingerMilliseconds: 5000)
        let socket = try context.socket(.xpub)
        defer { socket.close() }
        if let curve { try socket.makeCurveClient(curve) }
        try socket.set(.xpubNoDrop(true))
        try socket.set(.sendHighWaterMark(100_000))
        try socket.set(.receiveTimeout(milliseconds: Int(connectTimeout.inMilliseconds)))
        try socket.connect(endpoint)
        guard let subscription = try socket.receive(), subscription.first == 1 else {
            throw NoBroker(
                description: "no broker subscribed on \(endpoint) within \(connectTimeout)"
                    + ZMTPMechanismProbe.silenceReason(endpoint, curve: curve != nil))
        }
        let start = ContinuousClock.now
        for i in 0..<count {
            if interruption?.isSet == true { break }
            if rate > 0 {
                let due = start + .seconds(Double(i) / rate)
                let wait = due - ContinuousClock.now
                if wait > .zero { usleep(UInt32(min(wait.inMilliseconds * 1000, 1_000_000))) }
            }
            let frames = [Array(topic.utf8), headers, try maker.next()]
            // NODROP: EAGAIN while the pipe is full; wait for room rather than lose it.
            while !(try socket.trySend(multipart: frames)) { usleep(200) }
            stats.sent()
        }
    }
}

/// The sending thread's error, handed to the awaiting task.
private final class FailureBox: @unchecked Sendable {
    private let lock = NSLock()
    private var error: (any Error)?
    func set(_ e: any Error) { lock.withLock { error = e } }
    func get() -> (any Error)? { lock.withLock { error } }
}
