import Testing
import ZeroMQ

@Suite struct ZeroCopyTests {
    @Test func forwardsAMessageWithoutCopying() throws {
        let ctx = try Context()
        let inA = try ctx.socket(.pair), inB = try ctx.socket(.pair)
        let outA = try ctx.socket(.pair), outB = try ctx.socket(.pair)
        try inA.bind("inproc://zc-in"); try inB.connect("inproc://zc-in")
        try outA.bind("inproc://zc-out"); try outB.connect("inproc://zc-out")

        // A large frame (not stored inside zmq_msg_t) and a small one (stored inline).
        let big = (0..<100_000).map { UInt8(truncatingIfNeeded: $0) }
        try inB.send(big, flags: .more)
        try inB.send("small")

        // Forward both frames through one reusable Message, as a broker does.
        var message = Message()
        var forwarded = 0
        repeat {
            #expect(try inA.receive(into: &message))
            let more = message.hasMore
            try outA.send(&message, flags: more ? .more : [])
            #expect(message.count == 0, "a successful send leaves the message empty")
            forwarded += 1
            if !more { break }
        } while true
        #expect(forwarded == 2)
        #expect(try outB.receiveMultipart() == [big, Array("small".utf8)])
    }

    /// A `FrameBuffer` filled in place goes out as the frame's own bytes, whole or
    /// in part (shrunk first), behind header frames of a multipart message; a
    /// buffer never sent frees itself.
    @Test func aFrameBufferIsSentAsItsFilledPrefix() throws {
        let ctx = try Context()
        let a = try ctx.socket(.pair), b = try ctx.socket(.pair)
        try a.bind("inproc://frame-buffer"); try b.connect("inproc://frame-buffer")
        for (capacity, used) in [(65_536, 65_536), (65_536, 40_000), (65_536, 300), (65_536, 0), (16, 5)] {
            let buffer = FrameBuffer(capacity: capacity)
            for i in 0..<used { buffer.bytes[i] = UInt8(truncatingIfNeeded: i &* 7) }
            var frame = buffer.message(count: used)
            #expect(frame.count == used)
            #expect(try a.trySend(multipart: [Array("head".utf8), [1, 2]], last: &frame))
            let got = try #require(try b.receiveMultipart())
            #expect(got.count == 3 && got[0] == Array("head".utf8) && got[1] == [1, 2])
            #expect(got[2] == (0..<used).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        }
        _ = FrameBuffer(capacity: 1 << 20)  // dropped unsent: deinit frees it
    }

    @Test func sharedContentFansOut() throws {
        let ctx = try Context()
        let a = try ctx.socket(.pair), b = try ctx.socket(.pair)
        try a.bind("inproc://share"); try b.connect("inproc://share")
        let original = Message(bytes: Array(repeating: 7, count: 4096))
        var copy1 = Message(), copy2 = Message()
        copy1.shareContent(of: original)
        copy2.shareContent(of: original)
        try b.send(&copy1)
        try b.send(&copy2)
        #expect(try a.receive() == Array(repeating: 7, count: 4096))
        #expect(try a.receive() == Array(repeating: 7, count: 4096))
        #expect(original.count == 4096, "the original keeps its content")
    }

    @Test func messageContentIsReadableInPlace() {
        var m = Message(count: 4)
        m.withUnsafeMutableBytes { $0.copyBytes(from: [1, 2, 3, 4]) }
        #expect(m.bytes == [1, 2, 3, 4])
        #expect(Message(string: "héllo").string == "héllo")
        #expect(Message(bytes: [0xff, 0xfe]).string == nil)
    }
}

@Suite struct TimeoutTests {
    @Test func receiveTimeoutReturnsNil() throws {
        let ctx = try Context()
        let s = try ctx.socket(.pull)
        try s.bind("inproc://timeout")
        try s.set(.receiveTimeout(milliseconds: 50))
        let start = ContinuousClock.now
        #expect(try s.receive() == nil)
        let waited = ContinuousClock.now - start
        #expect(waited >= .milliseconds(40) && waited < .seconds(2))
    }

    @Test func nonBlockingReceiveReturnsNilAtOnce() throws {
        let ctx = try Context()
        let s = try ctx.socket(.pull)
        try s.bind("inproc://nb")
        #expect(try s.receive(dontWait: true) == nil)
    }

    @Test func sendTimeoutThrowsWouldBlock() throws {
        let ctx = try Context()
        // A DEALER with no peer blocks on send; the timeout turns that into an error.
        let s = try ctx.socket(.dealer)
        try s.set(.sendTimeout(milliseconds: 30))
        do {
            try s.send("nobody")
            Issue.record("expected a timeout")
        } catch {
            #expect(error.code == .wouldBlock)
        }
        var m = Message(string: "still nobody")
        #expect(try s.trySend(&m) == false)
        #expect(m.count == 12, "a failed send leaves the content with the caller")
    }
}

@Suite struct PollerTests {
    @Test func reportsTheReadySocketOnly() throws {
        let ctx = try Context()
        let a = try ctx.socket(.pull), b = try ctx.socket(.pull)
        let pa = try ctx.socket(.push), pb = try ctx.socket(.push)
        try a.bind("inproc://poll-a"); try pa.connect("inproc://poll-a")
        try b.bind("inproc://poll-b"); try pb.connect("inproc://poll-b")
        let poller = Poller()
        let ia = poller.add(a), ib = poller.add(b)

        #expect(try poller.poll(timeoutMilliseconds: 0) == 0)
        try pb.send("x")
        #expect(try poller.poll(timeoutMilliseconds: 1000) == 1)
        #expect(!poller.isReadable(ia))
        #expect(poller.isReadable(ib))
    }

    @Test func pollTimesOut() throws {
        let ctx = try Context()
        let a = try ctx.socket(.pull)
        try a.bind("inproc://poll-t")
        let poller = Poller()
        poller.add(a)
        let start = ContinuousClock.now
        #expect(try poller.poll(timeoutMilliseconds: 50) == 0)
        #expect(ContinuousClock.now - start >= .milliseconds(40))
    }

    @Test func wakesOnAPlainFileDescriptor() throws {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        let poller = Poller()
        let i = poller.add(fileDescriptor: fds[0])
        #expect(try poller.poll(timeoutMilliseconds: 0) == 0)
        var byte: UInt8 = 1
        #expect(write(fds[1], &byte, 1) == 1)
        #expect(try poller.poll(timeoutMilliseconds: 1000) == 1)
        #expect(poller.isReadable(i))
    }

    @Test func writableReflectsTheHighWaterMark() throws {
        let ctx = try Context()
        let push = try ctx.socket(.push)
        try push.set(.sendHighWaterMark(2))
        let pull = try ctx.socket(.pull)
        try pull.set(.receiveHighWaterMark(2))
        try pull.bind("inproc://poll-w")
        try push.connect("inproc://poll-w")
        let poller = Poller()
        let i = poller.add(push, events: .writable)
        #expect(try poller.poll(timeoutMilliseconds: 100) == 1)
        #expect(poller.isWritable(i))
        while try push.trySend([0]) {}
        #expect(try poller.poll(timeoutMilliseconds: 0) == 0, "a full pipe is not writable")
    }
}

#if canImport(Glibc)
    import Glibc
#endif
