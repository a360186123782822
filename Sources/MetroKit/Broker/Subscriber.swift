import Foundation
import Logging
import MetroProtocol
import ZeroMQ

/// Receives live events from a broker's events (XPUB) socket (protocol.md §4.4).
///
/// It subscribes to `prefixes` and then to a private `$metro.hello.<token>` topic;
/// the broker answers the hello once it has seen the subscriptions, with its head
/// seq. `waitUntilLive()` returns that seq: every matching event with a larger seq
/// is delivered (or shows as a gap if it was dropped at a high-water mark). No
/// "slow joiner" sleep is needed. Heartbeats update `headSeq` and, with
/// `includeHeartbeats`, appear in `events`.
///
/// Threading: the SUB socket lives on a dedicated I/O thread, which yields into an
/// `AsyncStream` (buffering at most `bufferLimit` events, dropping the oldest:
/// memory stays bounded if the consumer stalls). `close()` ends the thread.
public final class Subscriber: Sendable {
    public struct Options: Sendable {
        public var events: String
        public var prefixes: [String]
        public var includeHeartbeats = false
        public var bufferLimit = 100_000
        public init(events: String, prefixes: [String]) {
            self.events = events
            self.prefixes = prefixes
        }
    }

    struct State: Sendable {
        var liveFrom: UInt64?
        var liveWaiters: [CheckedContinuation<UInt64, any Error>] = []
        var headSeq: UInt64 = 0
        var closed = false
    }

    public let events: AsyncStream<LiveEvent>
    let state = Mailbox(State())
    let wake = WakePipe()
    private let finished = DispatchSemaphore(value: 0)

    public init(_ options: Options, context: Context? = nil, logger: Logger = Logger(label: "metro.subscriber")) throws
    {
        let ctx = try context ?? Context(ioThreads: 1, defaultLingerMilliseconds: 0)
        let (stream, continuation) = AsyncStream.makeStream(
            of: LiveEvent.self, bufferingPolicy: .bufferingNewest(options.bufferLimit))
        events = stream
        let socket = try ctx.socket(.sub)
        let token = UUID().uuidString.replacingOccurrences(of: "-", with: "")
        for prefix in options.prefixes { try socket.subscribe(prefix) }
        try socket.subscribe(Topic.heartbeat)
        try socket.subscribe(Hello.topic(token: token))
        try socket.connect(options.events)
        let state = self.state, wake = self.wake, done = finished
        let helloTopic = Hello.topic(token: token)
        // The socket moves to the I/O thread here, once, and is used only there.
        nonisolated(unsafe) let owned = socket
        let thread = Thread {
            Self.loop(
                socket: owned, helloTopic: helloTopic, options: options, state: state, wake: wake,
                continuation: continuation, logger: logger)
            done.signal()
        }
        thread.name = "metro-subscriber"
        thread.start()
    }

    deinit { close() }

    /// Waits until the broker has this subscriber's subscriptions; returns the head
    /// seq at that moment (events with larger seqs are covered).
    public func waitUntilLive(timeout: Duration = .seconds(10)) async throws -> UInt64 {
        try await withThrowingTaskGroup(of: UInt64.self) { group in
            group.addTask {
                try await withCheckedThrowingContinuation { c in
                    let now: UInt64?? = self.state.withLock { s in
                        if s.closed { return .some(nil) }
                        if let l = s.liveFrom { return .some(l) }
                        s.liveWaiters.append(c)
                        return nil
                    }
                    switch now {
                    case .some(.some(let l)): c.resume(returning: l)
                    case .some(.none): c.resume(throwing: MetroClientError.closed)
                    case .none: break
                    }
                }
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw MetroClientError.timedOut("no hello from the broker within \(timeout)")
            }
            let first = try await group.next()!
            group.cancelAll()
            return first
        }
    }

    /// The latest head seq seen in a heartbeat or hello.
    public var headSeq: UInt64 { state.withLock { $0.headSeq } }

    public func close() {
        let first = state.withLock { s in
            defer { s.closed = true }
            return !s.closed
        }
        guard first else { return }
        wake.wake()
        finished.wait()
    }

    private static func loop(
        socket: Socket, helloTopic: String, options: Options, state: Mailbox<State>, wake: WakePipe,
        continuation: AsyncStream<LiveEvent>.Continuation, logger: Logger
    ) {
        defer {
            socket.close()
            continuation.finish()
            let waiters = state.withLock { s in
                defer { s.liveWaiters.removeAll() }
                return s.liveWaiters
            }
            for w in waiters { w.resume(throwing: MetroClientError.closed) }
        }
        let poller = Poller()
        poller.add(socket)
        poller.add(fileDescriptor: wake.readFD)
        do {
            while true {
                try poller.poll(timeoutMilliseconds: 200)
                wake.drain()
                if state.withLock({ $0.closed }) { return }
                var n = 0
                while n < 1024, let frames = try socket.receiveMultipart(dontWait: true) {
                    n += 1
                    guard let event = LiveEvent(frames: frames) else { continue }
                    if event.topic == helloTopic {
                        try? socket.unsubscribe(helloTopic)
                        let waiters = state.withLock { s in
                            s.liveFrom = event.seq
                            s.headSeq = max(s.headSeq, event.seq)
                            defer { s.liveWaiters.removeAll() }
                            return s.liveWaiters
                        }
                        for w in waiters { w.resume(returning: event.seq) }
                    } else if event.topic.hasPrefix(Hello.prefix) {
                        continue  // another subscriber's hello
                    } else if event.isHeartbeat {
                        state.withLock { $0.headSeq = max($0.headSeq, event.seq) }
                        if options.includeHeartbeats { continuation.yield(event) }
                    } else {
                        continuation.yield(event)
                    }
                }
            }
        } catch {
            logger.error("subscriber I/O thread failed: \(error)")
        }
    }
}
