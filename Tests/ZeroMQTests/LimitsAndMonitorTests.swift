import Testing
import ZeroMQ

@Suite struct LimitTests {
    @Test func pubDropsAtItsHighWaterMark() throws {
        let ctx = try Context()
        let pub = try ctx.socket(.pub)
        try pub.set(.sendHighWaterMark(10))
        let sub = try ctx.socket(.sub)
        try sub.set(.receiveHighWaterMark(10))
        try pub.bind("inproc://hwm")
        try sub.connect("inproc://hwm")
        try sub.subscribe("")
        // Wait until the subscription is live, draining the probes.
        try sub.set(.receiveTimeout(milliseconds: 5))
        var live = false
        for _ in 0..<1000 where !live {
            try pub.send([0])
            live = try sub.receive() != nil
        }
        #expect(live)
        while try sub.receive(dontWait: true) != nil {}

        // The subscriber stops reading: 1000 sends never block and most are dropped.
        for i in 0..<1000 { try pub.send([UInt8(truncatingIfNeeded: i), 1]) }
        var received = 0
        while try sub.receive(dontWait: true) != nil { received += 1 }
        #expect(received > 0)
        #expect(received <= 20, "at most send HWM + receive HWM messages survive (got \(received))")
    }

    @Test func routerMandatoryFailsForAnUnknownPeer() throws {
        let ctx = try Context()
        let router = try ctx.socket(.router)
        try router.set(.routerMandatory(true))
        _ = try router.bindResolved("tcp://127.0.0.1:*")
        do {
            try router.send(multipart: [Array("nobody".utf8), Array("hello".utf8)])
            Issue.record("expected EHOSTUNREACH")
        } catch {
            #expect(error.code == .hostUnreachable)
        }
    }

    @Test func routerWithoutMandatoryDropsSilently() throws {
        let ctx = try Context()
        let router = try ctx.socket(.router)
        _ = try router.bindResolved("tcp://127.0.0.1:*")
        try router.send(multipart: [Array("nobody".utf8), Array("hello".utf8)])
    }

    @Test func maxMessageSizeDropsAnOversizedMessage() throws {
        let ctx = try Context()
        let pull = try ctx.socket(.pull)
        try pull.set(.maxMessageSize(1000))
        let endpoint = try pull.bindResolved("tcp://127.0.0.1:*")
        let monitor = try pull.monitor([.accepted, .disconnected])

        let push = try ctx.socket(.push)
        try push.connect(endpoint)
        #expect(try monitor.waitFor(.accepted, timeoutMilliseconds: 5000) != nil)
        try push.send(Array(repeating: 1, count: 5000))
        // libzmq drops the connection of a peer that sends an oversized frame.
        #expect(try monitor.waitFor(.disconnected, timeoutMilliseconds: 5000) != nil)
        try pull.set(.receiveTimeout(milliseconds: 200))
        #expect(try pull.receive() == nil)

        // A well-behaved peer still gets through.
        let push2 = try ctx.socket(.push)
        try push2.connect(endpoint)
        try push2.send(Array(repeating: 2, count: 10))
        try pull.set(.receiveTimeout(milliseconds: 5000))
        #expect(try pull.receive() == Array(repeating: 2, count: 10))
    }
}

@Suite struct MonitorTests {
    @Test func reportsConnectAndDisconnect() throws {
        let ctx = try Context()
        let server = try ctx.socket(.router)
        let endpoint = try server.bindResolved("tcp://127.0.0.1:*")
        let client = try ctx.socket(.dealer)
        let monitor = try client.monitor([.connected, .disconnected])
        try client.connect(endpoint)
        let connected = try #require(try monitor.waitFor(.connected, timeoutMilliseconds: 5000))
        #expect(connected.endpoint == endpoint)
        server.close()
        let gone = try #require(try monitor.waitFor(.disconnected, timeoutMilliseconds: 5000))
        #expect(gone.endpoint == endpoint)
    }
}

@Suite struct CurveTests {
    @Test func keyPairsAreZ85() throws {
        try #require(Capability.curve.isAvailable)
        let keys = try CurveKeyPair.generate()
        #expect(keys.publicKey.utf8.count == 40)
        #expect(keys.secretKey.utf8.count == 40)
        #expect(keys != (try CurveKeyPair.generate()))
    }

    @Test func handshakeSucceedsWithTheRightServerKey() throws {
        let ctx = try Context()
        let serverKeys = try CurveKeyPair.generate()
        let server = try ctx.socket(.rep)
        try server.makeCurveServer(serverKeys)
        let endpoint = try server.bindResolved("tcp://127.0.0.1:*")

        let client = try ctx.socket(.req)
        try client.makeCurveClient(try CurveKeyPair.generate(), serverKey: serverKeys.publicKey)
        try client.connect(endpoint)
        try client.send("secret hello")
        try server.set(.receiveTimeout(milliseconds: 5000))
        #expect(try server.receive() == Array("secret hello".utf8))
    }

    @Test func handshakeFailsWithAWrongServerKey() throws {
        let ctx = try Context()
        let serverKeys = try CurveKeyPair.generate()
        let server = try ctx.socket(.rep)
        try server.makeCurveServer(serverKeys)
        let serverMonitor = try server.monitor(.handshakeFailed)
        let endpoint = try server.bindResolved("tcp://127.0.0.1:*")

        let client = try ctx.socket(.req)
        let impostor = try CurveKeyPair.generate()
        try client.makeCurveClient(try CurveKeyPair.generate(), serverKey: impostor.publicKey)
        try client.connect(endpoint)
        try client.send("should not arrive")
        #expect(try serverMonitor.waitFor(.handshakeFailed, timeoutMilliseconds: 5000) != nil)
        try server.set(.receiveTimeout(milliseconds: 200))
        #expect(try server.receive() == nil)
    }

    @Test func rejectsMalformedKeys() throws {
        let ctx = try Context()
        let s = try ctx.socket(.req)
        #expect(throws: ZMQError.self) { try s.set(.curveServerKey("too short")) }
    }
}

@Suite struct MonitorQueueTests {
    /// A monitor nobody reads for a while must neither stall the context's I/O
    /// thread nor lose events: the broker reads its monitors only every 100 ms.
    /// A DEALER reconnecting every millisecond to a listener that closes each
    /// connection at once makes thousands of events, more than the 2,000 a
    /// default-bounded inproc pipe would hold. The test waits for 1,100 accepted
    /// connections (at least 2,200 events), not for a fixed time: 2.5 s of
    /// refused connects to port 1 made only 1,290 events in a full parallel run,
    /// where libzmq's I/O thread shares 2 cores with a dozen brokers.
    @Test func anUnreadMonitorQueuesEverythingAndNeverStallsTheIOThread() async throws {
        let ctx = try Context(defaultLingerMilliseconds: 0)
        let dealer = try ctx.socket(.dealer)
        try dealer.set(.reconnectInterval(milliseconds: 1))
        try dealer.set(.reconnectIntervalMax(milliseconds: 1))
        let monitor = try dealer.monitor(.all)
        let listener = try AcceptCounter()
        defer { listener.stop() }
        try dealer.connect(listener.endpoint)

        let deadline = ContinuousClock.now + .seconds(60)
        while listener.count < 1100 && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))  // yields its thread to other tests
        }
        #expect(listener.count >= 1100, "only \(listener.count) connections in 60 s")
        // The I/O thread still serves other sockets of the context.
        let rep = try ctx.socket(.rep)
        let endpoint = try rep.bindResolved("tcp://127.0.0.1:*")
        let req = try ctx.socket(.req)
        try req.set(.receiveTimeout(milliseconds: 5000))
        try rep.set(.receiveTimeout(milliseconds: 5000))
        try req.connect(endpoint)
        try req.send(Array("ping".utf8))
        #expect(try rep.receive() == Array("ping".utf8))
        try rep.send(Array("pong".utf8))
        #expect(try req.receive() == Array("pong".utf8))

        try dealer.disconnect(listener.endpoint)
        var events = 0
        while try monitor.next(timeoutMilliseconds: 0) != nil { events += 1 }
        #expect(events > 2000, "the retries made \(events) events, too few to exceed a bounded queue")
    }
}
