import Testing
import ZeroMQ

/// Each socket pattern end to end, over inproc and TCP loopback (ephemeral ports).
@Suite struct PatternTests {
    static let transports = ["inproc", "tcp"]

    /// Binds `server` on a fresh endpoint of `transport` and returns the resolved endpoint.
    static func bindFresh(_ server: Socket, _ transport: String) throws -> String {
        if transport == "tcp" { return try server.bindResolved("tcp://127.0.0.1:*") }
        let name = "inproc://pattern-\(UInt64.random(in: 0...UInt64.max))"
        try server.bind(name)
        return name
    }

    @Test(arguments: transports)
    func requestReply(transport: String) throws {
        let ctx = try Context()
        let rep = try ctx.socket(.rep)
        let req = try ctx.socket(.req)
        try req.connect(Self.bindFresh(rep, transport))
        try req.send("ping")
        #expect(try rep.receive() == Array("ping".utf8))
        try rep.send("pong")
        #expect(try req.receive() == Array("pong".utf8))
    }

    @Test(arguments: transports)
    func dealerRouterMultipart(transport: String) throws {
        let ctx = try Context()
        let router = try ctx.socket(.router)
        let dealer = try ctx.socket(.dealer)
        try dealer.set(.routingID(Array("client-1".utf8)))
        try dealer.connect(Self.bindFresh(router, transport))
        try dealer.send(multipart: [Array("a".utf8), [], Array("c".utf8)])
        let frames = try #require(try router.receiveMultipart())
        #expect(frames == [Array("client-1".utf8), Array("a".utf8), [], Array("c".utf8)])
        try router.send(multipart: [Array("client-1".utf8), Array("reply".utf8)])
        #expect(try dealer.receiveMultipart() == [Array("reply".utf8)])
    }

    @Test(arguments: transports)
    func publishSubscribeFiltersByPrefix(transport: String) throws {
        let ctx = try Context()
        let pub = try ctx.socket(.pub)
        let sub = try ctx.socket(.sub)
        try sub.subscribe("video.")
        try sub.connect(Self.bindFresh(pub, transport))
        // No slow-joiner sleep: publish until the subscription is live, then check filtering.
        try sub.set(.receiveTimeout(milliseconds: 10))
        var got: [[UInt8]]? = nil
        for _ in 0..<1000 where got == nil {
            try pub.send(multipart: [Array("profile.updated".utf8), Array("x".utf8)])
            try pub.send(multipart: [Array("video.uploaded".utf8), Array("v".utf8)])
            got = try sub.receiveMultipart()
        }
        #expect(got == [Array("video.uploaded".utf8), Array("v".utf8)])
    }

    @Test(arguments: transports)
    func xpubSeesSubscriptionsAndXsubForwards(transport: String) throws {
        let ctx = try Context()
        let xpub = try ctx.socket(.xpub)
        let sub = try ctx.socket(.sub)
        try sub.connect(Self.bindFresh(xpub, transport))
        try sub.subscribe("t")
        // XPUB receives the subscription as [0x01, prefix...].
        #expect(try xpub.receive() == [1, UInt8(ascii: "t")])

        let xsub = try ctx.socket(.xsub)
        let pub = try ctx.socket(.pub)
        try pub.connect(Self.bindFresh(xsub, transport))
        try xsub.send([1])  // subscribe to everything upstream
        try xsub.set(.receiveTimeout(milliseconds: 10))
        var got: [[UInt8]]? = nil
        for _ in 0..<1000 where got == nil {
            try pub.send(multipart: [Array("t".utf8), Array("p".utf8)])
            got = try xsub.receiveMultipart()
        }
        #expect(got == [Array("t".utf8), Array("p".utf8)])
    }

    @Test(arguments: transports)
    func pushPull(transport: String) throws {
        let ctx = try Context()
        let pull = try ctx.socket(.pull)
        let push = try ctx.socket(.push)
        try push.connect(Self.bindFresh(pull, transport))
        for i in 0..<100 { try push.send([UInt8(i)]) }
        for i in 0..<100 { #expect(try pull.receive() == [UInt8(i)]) }
    }

    @Test func pairOverInproc() throws {
        let ctx = try Context()
        let a = try ctx.socket(.pair)
        let b = try ctx.socket(.pair)
        try b.connect(Self.bindFresh(a, "inproc"))
        try b.send("hi")
        #expect(try a.receive() == Array("hi".utf8))
    }

    @Test func ephemeralPortIsResolved() throws {
        let ctx = try Context()
        let s = try ctx.socket(.rep)
        let endpoint = try s.bindResolved("tcp://127.0.0.1:*")
        #expect(endpoint.hasPrefix("tcp://127.0.0.1:"))
        #expect(!endpoint.hasSuffix(":*"))
        // Unbinding frees the port for a second bind, but asynchronously: libzmq's I/O
        // thread closes the listener after zmq_unbind returns. Its monitor's `closed`
        // event says when (docs/performance.md, "Findings about libzmq").
        let monitor = try s.monitor(.closed)
        try s.unbind(endpoint)
        #expect(try monitor.waitFor(.closed, timeoutMilliseconds: 5000) != nil)
        let t = try ctx.socket(.rep)
        try t.bind(endpoint)
    }

    @Test func bindingTwiceIsAddressInUse() throws {
        let ctx = try Context()
        let a = try ctx.socket(.rep)
        let endpoint = try a.bindResolved("tcp://127.0.0.1:*")
        let b = try ctx.socket(.rep)
        #expect(throws: ZMQError.self) { try b.bind(endpoint) }
        do { try b.bind(endpoint) } catch { #expect(error.code == .addressInUse) }
    }

    @Test func invalidEndpointIsATypedError() throws {
        let ctx = try Context()
        let s = try ctx.socket(.req)
        do {
            try s.connect("nonsense://x")
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .protocolNotSupported)
            #expect(error.operation.contains("nonsense://x"))
            #expect(!error.message.isEmpty)
        }
    }

    @Test func reqSendingTwiceIsInvalidState() throws {
        let ctx = try Context()
        let rep = try ctx.socket(.rep)
        let req = try ctx.socket(.req)
        try req.connect(Self.bindFresh(rep, "inproc"))
        try req.send("one")
        do {
            try req.send("two")
            Issue.record("expected EFSM")
        } catch {
            #expect(error.code == .invalidState)
        }
    }
}
