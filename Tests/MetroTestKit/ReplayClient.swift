import Foundation
package import MetroKit
package import MetroProtocol
package import ZeroMQ

/// A raw replay client over a DEALER, as a pyzmq script would write it
/// (protocol.md §4.9): sends REPLAY, grants credit in windows, and collects the
/// stream until CAUGHT-UP or ERROR. Checks that the broker never sends more EVENTs
/// than the credit granted. Runs on a thread of its own (`offPool`); the socket
/// closes on exit.
package struct ReplayOutcome: Sendable {
    package var events: [LiveEvent] = []
    package var caughtUp: UInt64?
    package var error: WireError?
    package var errorContext: (id: [UInt8]?, seq: UInt64?) = (nil, nil)
    /// The broker sent more EVENTs than the credit granted (a protocol violation).
    package var creditExceeded = false
}

/// Runs one replay to its end (see `ReplayOutcome`), keeping half a `window` of
/// credit in flight; throws after 5 s of silence or `timeout` in all.
package func replay(
    on endpoint: String, _ request: ReplayCodec.Request, window: UInt32 = 100, timeout: Duration = .seconds(30)
) async throws -> ReplayOutcome {
    try await offPool { try replayBlocking(on: endpoint, request, window: window, timeout: timeout) }
}

private func replayBlocking(
    on endpoint: String, _ request: ReplayCodec.Request, window: UInt32, timeout: Duration
) throws -> ReplayOutcome {
    let s = try testContext.socket(.dealer)
    defer { s.close() }
    try s.set(.receiveTimeout(milliseconds: 5000))
    try s.connect(endpoint)
    var request = request
    request.credit = window
    try s.send(multipart: request.frames)
    var out = ReplayOutcome()
    var granted = UInt64(window), received: UInt64 = 0
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        guard let frames = try s.receiveMultipart() else { throw WaitError.timedOut("replay stream") }
        switch ReplayCodec.decodeReply(frames) {
        case .event(let id, let e)?:
            precondition(id == request.id)
            out.events.append(e)
            received += 1
            if received > granted { out.creditExceeded = true }
            if received % UInt64(window / 2) == 0 {  // keep half a window in flight
                try s.send(multipart: ReplayCodec.creditFrames(id: request.id, credit: window / 2))
                granted += UInt64(window / 2)
            }
        case .caughtUp(_, let last)?:
            out.caughtUp = last
            return out
        case .error(let e, let id, let earliest)?:
            out.error = e
            out.errorContext = (id, earliest)
            return out
        case nil, .packed?:  // a per-event REPLAY gets no EVENT-PACKED (§4.9.2)
            throw WaitError.unexpected("malformed replay message \(frames.map { Hex.encode($0) })")
        }
    }
    throw WaitError.timedOut("replay did not finish")
}

/// Publishes `count` acknowledged events, `topics` in turn, many in flight; returns their seqs in order.
package func publishMany(
    _ publisher: Publisher, count: Int, topics: [String], idPrefix: String = "e", payloadBytes: Int = 16
) async throws -> [UInt64] {
    try await withThrowingTaskGroup(of: (Int, UInt64).self) { group in
        var seqs = [UInt64](repeating: 0, count: count)
        var next = 0
        func add() {
            let i = next
            next += 1
            group.addTask {
                let payload = Array("\(i)".utf8) + [UInt8](repeating: 0x2e, count: max(0, payloadBytes - 8))
                let seq = try await publisher.publish(
                    topic: topics[i % topics.count], payload: payload, eventID: Array("\(idPrefix)-\(i)".utf8))
                return (i, seq)
            }
        }
        while next < min(count, 512) { add() }
        while let (i, seq) = try await group.next() {
            seqs[i] = seq
            if next < count { add() }
        }
        return seqs
    }
}

/// One DEALER that runs replays step by step (REPLAY, then each message, CREDIT
/// when the test says), for tests that act between messages. Closes on `close()`.
/// Each receive waits on a thread of its own (`offPool`); one call at a time.
package final class ReplayConnection: @unchecked Sendable {
    package let socket: Socket

    package init(_ endpoint: String) throws {
        socket = try testContext.socket(.dealer)
        try socket.set(.receiveTimeout(milliseconds: 5000))
        try socket.connect(endpoint)
    }

    package func start(_ request: ReplayCodec.Request) throws { try socket.send(multipart: request.frames) }
    package func credit(_ id: [UInt8], _ n: UInt32) throws {
        try socket.send(multipart: ReplayCodec.creditFrames(id: id, credit: n))
    }

    /// The next message, decoded; throws after 5 s of silence.
    package func next() async throws -> ReplayCodec.Reply {
        try await offPool { try self.nextBlocking() }
    }

    private func nextBlocking() throws -> ReplayCodec.Reply {
        guard let frames = try socket.receiveMultipart() else { throw WaitError.timedOut("replay message") }
        guard let reply = ReplayCodec.decodeReply(frames) else {
            throw WaitError.unexpected("malformed replay message \(frames.map { Hex.encode($0) })")
        }
        return reply
    }

    /// Messages until the replay ends (CAUGHT-UP or ERROR, the last one returned).
    package func untilEnd() async throws -> (events: [LiveEvent], end: ReplayCodec.Reply) {
        try await offPool {
            var events: [LiveEvent] = []
            while true {
                let m = try self.nextBlocking()
                guard case .event(_, let e) = m else { return (events, m) }
                events.append(e)
            }
        }
    }

    package func close() { socket.close() }
}
