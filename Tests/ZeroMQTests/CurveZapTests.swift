import Synchronization
import Testing

@testable import ZeroMQ

@Suite struct Z85Tests {
    /// RFC 32's own test vector.
    @Test func encodesAndDecodesTheRFCVector() throws {
        let bytes: [UInt8] = [0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B]
        #expect(Z85.encode(bytes) == "HelloWorld")
        #expect(Z85.decode("HelloWorld") == bytes)
    }

    @Test func refusesWhatIsNotZ85() {
        #expect(Z85.encode([1, 2, 3]) == nil)
        #expect(Z85.decode("Hello") == [0x86, 0x4F, 0xD2, 0x6F])
        #expect(Z85.decode("Hell") == nil)
        #expect(Z85.decode("Hell\"") == nil)
        #expect(Z85.decode("Hell~") == nil)
    }

    @Test func keysRoundTrip() throws {
        try #require(Capability.curve.isAvailable)
        let keys = try CurveKeyPair.generate()
        let raw = try #require(Z85.decode(keys.publicKey))
        #expect(raw.count == 32)
        #expect(Z85.encode(raw) == keys.publicKey)
    }
}

@Suite struct CurveKeyDerivationTests {
    @Test func thePublicKeyFollowsFromTheSecretKey() throws {
        try #require(Capability.curve.isAvailable)
        let keys = try CurveKeyPair.generate()
        #expect(try CurveKeyPair(secretKey: keys.secretKey) == keys)
        #expect(CurveKeyPair.isKey(keys.publicKey))
        #expect(CurveKeyPair.isKey(keys.secretKey))
    }

    @Test func refusesAMalformedSecretKey() {
        #expect(throws: ZMQError.self) { try CurveKeyPair(secretKey: "short") }
        #expect(throws: ZMQError.self) { try CurveKeyPair(secretKey: String(repeating: "~", count: 40)) }
        #expect(!CurveKeyPair.isKey(String(repeating: "a", count: 39)))
    }
}

/// The ZAP requests a handler saw (any thread).
private final class ZapRequestLog: Sendable {
    let requests = Mutex<[ZapRequest]>([])
}

/// A CURVE REP server in its own context with a ZAP handler allowing one key.
private final class ZapServer {
    let context: Context
    let handler: ZapHandler
    let thread: DedicatedThread
    let server: Socket
    let endpoint: String
    let serverKeys: CurveKeyPair
    let seen = ZapRequestLog()

    init(allowing allowed: String, as name: String) throws {
        context = try Context()
        serverKeys = try CurveKeyPair.generate()
        let seen = seen
        handler = try ZapHandler(context: context) { request in
            seen.requests.withLock { $0.append(request) }
            return request.curvePublicKey == allowed ? .allow(userID: name) : .deny(reason: "unknown key")
        }
        let handler = handler
        thread = DedicatedThread(name: "zap-test") { handler.run() }
        thread.start()
        server = try context.socket(.rep)
        try server.makeCurveServer(serverKeys, zapDomain: "test")
        try server.set(.receiveTimeout(milliseconds: 10_000))
        endpoint = try server.bindResolved("tcp://127.0.0.1:*")
    }

    func close() async {
        handler.stop()
        await thread.join()
        server.close()
    }
}

@Suite struct ZapHandlerTests {
    @Test func anAllowedKeyGetsInAndItsMessagesCarryTheIdentity() async throws {
        try #require(Capability.curve.isAvailable)
        let client = try CurveKeyPair.generate()
        let zap = try ZapServer(allowing: client.publicKey, as: "orders")
        let ctx = try Context()
        let req = try ctx.socket(.req)
        try req.makeCurveClient(client, serverKey: zap.serverKeys.publicKey)
        try req.connect(zap.endpoint)
        try req.send("hello")
        var message = Message()
        let received = try zap.server.receive(into: &message)
        try #require(received)
        #expect(message.string == "hello")
        #expect(message.metadata("User-Id") == "orders")
        #expect(message.metadata("Peer-Address") == "127.0.0.1")
        #expect(message.metadata("No-Such-Property") == nil)
        let seen = try #require(zap.seen.requests.withLock { $0.first })
        #expect(seen.domain == "test")
        #expect(seen.mechanism == "CURVE")
        #expect(seen.address == "127.0.0.1")
        req.close()
        await zap.close()
    }

    /// The broker reads whole messages into a `MultipartBuffer`: each frame there
    /// carries its connection's metadata too.
    @Test func aMultipartBufferReadsTheIdentityOfEachFrame() async throws {
        try #require(Capability.curve.isAvailable)
        let client = try CurveKeyPair.generate()
        let zap = try ZapServer(allowing: client.publicKey, as: "video-worker")
        let ctx = try Context()
        let req = try ctx.socket(.req)
        try req.makeCurveClient(CurveCredentials(keys: client, serverPublicKey: zap.serverKeys.publicKey))
        try req.connect(zap.endpoint)
        try req.send(multipart: [Array("a".utf8), Array("b".utf8)])
        let buffer = MultipartBuffer(capacity: 4)
        let poller = Poller()
        poller.add(zap.server)
        try poller.poll(timeoutMilliseconds: 10_000)
        #expect(try buffer.receive(from: zap.server))
        #expect(buffer.count == 2)
        #expect(buffer.metadata("User-Id", frame: 0) == "video-worker")
        #expect(buffer.metadata("User-Id", frame: 1) == "video-worker")
        req.close()
        await zap.close()
    }

    @Test func anUnknownKeyNeverCompletesTheHandshake() async throws {
        try #require(Capability.curve.isAvailable)
        let zap = try ZapServer(allowing: try CurveKeyPair.generate().publicKey, as: "orders")
        let failed = try zap.server.monitor(.handshakeFailed)
        let ctx = try Context()
        let req = try ctx.socket(.req)
        try req.makeCurveClient(try CurveKeyPair.generate(), serverKey: zap.serverKeys.publicKey)
        try req.connect(zap.endpoint)
        try req.send("let me in")
        // The denial is the event (ZAP status 400), not a silence waited out.
        let event = try #require(try failed.waitFor(.handshakeFailed, timeoutMilliseconds: 10_000))
        #expect(event.value == 400)
        try zap.server.set(.receiveTimeout(milliseconds: 0))
        #expect(try zap.server.receive() == nil)
        req.close()
        await zap.close()
    }

    @Test func aMalformedRequestGets500WithItsID() throws {
        let ctx = try Context()
        let handler = try ZapHandler(context: ctx) { _ in .allow(userID: "x") }
        let reply = handler.answer([Array("2.0".utf8), [7], [], [], [], Array("CURVE".utf8)])
        #expect(reply.count == 6)
        #expect(reply[1] == [7])
        #expect(reply[2] == Array("500".utf8))
        let ok = handler.answer([Array("1.0".utf8), [9], Array("d".utf8), [], [], Array("NULL".utf8)])
        #expect(ok == [Array("1.0".utf8), [9], Array("200".utf8), Array("OK".utf8), Array("x".utf8), []])
        handler.stop()
        #expect(handler.run() == nil)  // returns at once: stop() came first
    }

    @Test func oneHandlerPerContext() throws {
        let ctx = try Context()
        let first = try ZapHandler(context: ctx) { _ in .deny(reason: "no") }
        #expect { try ZapHandler(context: ctx) { _ in .deny(reason: "no") } } throws: { error in
            (error as? ZMQError)?.code == .addressInUse
        }
        first.stop()
        #expect(first.run() == nil)
    }

    @Test func zapDomainIsASocketOption() throws {
        let ctx = try Context()
        let s = try ctx.socket(.router)
        try s.set(.zapDomain("metro"))
        #expect(throws: ZMQError.self) { try s.set(.zapDomain(String(repeating: "d", count: 300))) }
    }
}
