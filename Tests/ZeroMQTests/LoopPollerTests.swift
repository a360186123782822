import Testing

@testable import ZeroMQ

#if canImport(Glibc)
    import Glibc
#endif

/// `LoopPoller` (the broker's poll): a socket's events are asked for only when its
/// descriptor fired or the loop used it, and no message is missed when a use of
/// the socket consumed the descriptor's edge.
@Suite struct LoopPollerTests {
    /// A DEALER (the loop's socket) connected to a ROUTER over TCP loopback; the
    /// ROUTER has seen the DEALER's hello, so it can send to it.
    func pair(_ ctx: Context) async throws -> (loop: Socket, peer: Socket, peerID: [UInt8]) {
        let peer = try ctx.socket(.router)
        let endpoint = try peer.bindResolved("tcp://127.0.0.1:*")
        let loop = try ctx.socket(.dealer)
        try loop.connect(endpoint)
        try loop.send(Array("hello".utf8))
        let hello = try await receiveSoon(peer)
        return (loop, peer, hello[0])
    }

    func receiveSoon(_ socket: Socket) async throws -> [[UInt8]] {
        for _ in 0..<500 {
            if let m = try socket.receiveMultipart(dontWait: true) { return m }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw ZMQError(errno: EAGAIN, operation: "nothing arrived in 5 s")
    }

    /// Waits (without touching the socket) until its descriptor says commands arrived.
    func descriptorFires(_ socket: Socket) async throws {
        var p = pollfd(fd: try socket.fileDescriptor, events: Int16(POLLIN), revents: 0)
        for _ in 0..<500 {
            if Glibc.poll(&p, 1, 0) == 1 { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw ZMQError(errno: EAGAIN, operation: "the descriptor never fired")
    }

    @Test func aMessageWhoseEdgeTheLoopsOwnSendConsumedIsStillReported() async throws {
        let ctx = try Context(defaultLingerMilliseconds: 0)
        let (loop, peer, id) = try await pair(ctx)
        let poller = LoopPoller()
        let item = try poller.add(loop)
        #expect(try poller.poll(timeoutMilliseconds: 0) == 0)
        try peer.send(multipart: [id, Array("work".utf8)])
        try await descriptorFires(loop)
        // The loop sends (an ACK, say) before it polls again: that processes the
        // socket's commands and clears its descriptor while the message waits.
        try loop.send(Array("ack".utf8))
        #expect(try poller.poll(timeoutMilliseconds: 0) == 1 && poller.isReadable(item))
        #expect(try loop.receive(dontWait: true) == Array("work".utf8))
        #expect(try poller.poll(timeoutMilliseconds: 0) == 0)
    }

    @Test func anIdleSocketIsNotAskedAgainUntilItsDescriptorFires() async throws {
        let ctx = try Context(defaultLingerMilliseconds: 0)
        let (loop, peer, id) = try await pair(ctx)
        let poller = LoopPoller()
        let item = try poller.add(loop)
        #expect(try poller.poll(timeoutMilliseconds: 0) == 0)
        let uses = loop.uses
        for _ in 0..<10 { #expect(try poller.poll(timeoutMilliseconds: 1) == 0) }
        #expect(loop.uses == uses, "no ZMQ_EVENTS ask (two system calls each) for a socket nothing happened to")
        try peer.send(multipart: [id, Array("work".utf8)])
        var seen = false
        for _ in 0..<500 where !seen {
            seen = try poller.poll(timeoutMilliseconds: 0) == 1 && poller.isReadable(item)
            if !seen { try await Task.sleep(for: .milliseconds(10)) }
        }
        #expect(seen)
    }

    @Test func aPlainDescriptorAndAnUndrainedSocketStayReadable() async throws {
        let ctx = try Context(defaultLingerMilliseconds: 0)
        let (loop, peer, id) = try await pair(ctx)
        let pipe = WakePipe()
        let poller = LoopPoller()
        let socketItem = try poller.add(loop)
        let pipeItem = poller.add(fileDescriptor: pipe.readFD)
        pipe.wake()
        #expect(try poller.poll(timeoutMilliseconds: 0) == 1 && poller.isReadable(pipeItem))
        pipe.drain()
        try peer.send(multipart: [id, Array("one".utf8)])
        try peer.send(multipart: [id, Array("two".utf8)])
        #expect(try await receiveSoon(loop) == [Array("one".utf8)])
        var seen = false
        for _ in 0..<500 where !seen {
            seen = try poller.poll(timeoutMilliseconds: 0) >= 1 && poller.isReadable(socketItem)
            if !seen { try await Task.sleep(for: .milliseconds(10)) }
        }
        #expect(seen, "the second message")
        // It is left there, and the loop does not touch the socket: still readable.
        #expect(try poller.poll(timeoutMilliseconds: 0) >= 1 && poller.isReadable(socketItem))
        #expect(!poller.isReadable(pipeItem))
    }
}
