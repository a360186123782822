import MetroProtocol
import MetroTestSupport
import Testing

/// Decodes and re-encodes every rpc vector of protocol.md Appendix A.6.
@Suite struct RpcVectorTests {
    static let request = RpcRequest(
        requestID: Array("r-1".utf8), method: "profile.get", deadlineMilliseconds: 1500,
        headers: RpcHeaders(requestID: "req-7"), body: Array(#"{"id":"u-1"}"#.utf8))

    let vectors: [String: [[UInt8]]]

    init() throws { vectors = try ProtocolVectors.load(prefix: "rpc.") }

    func vector(_ name: String) throws -> [[UInt8]] {
        try #require(vectors[name], "protocol.md has no vector \(name)")
    }

    @Test func theDocumentHasEveryRpcVector() {
        #expect(
            Set(vectors.keys) == [
                "rpc.request", "rpc.reply", "rpc.error.overloaded", "rpc.request.empty-id", "rpc.error.malformed",
                "rpc.request.targeted", "rpc.error.wrong-instance", "rpc.request.bytes", "rpc.reply.bytes",
                "rpc.request.bytes-in", "rpc.reply.bytes-in",
            ])
    }

    /// §6.9: a head-and-bytes body splits into the head and the bytes, and encodes back.
    @Test func aBytesReplyDecodesIntoItsHeadAndBytes() throws {
        let frames = try vector("rpc.reply.bytes")
        guard case .reply(let id, _, let body) = try RpcReply.decode(frames).get() else {
            Issue.record("not a REPLY")
            return
        }
        #expect(id == Array("r-1".utf8))
        let parts = try RpcBytesBody.split(body).get()
        #expect(Array(parts.head) == Array(#"{"contentType":"image/jpeg","length":4,"totalBytes":4}"#.utf8))
        #expect(Array(parts.bytes) == [0xFF, 0xD8, 0xFF, 0xD9])
        #expect(RpcBytesBody.encode(head: Array(parts.head), bytes: parts.bytes) == body)
        let request = try RpcRequest.decode(try vector("rpc.request.bytes")).get()
        #expect(request.method == "media.read" && request.body == Array(#"{"id":"m-1","offset":0}"#.utf8))
        // The other way: a request with bytes, a JSON answer.
        let write = try RpcRequest.decode(try vector("rpc.request.bytes-in")).get()
        let written = try RpcBytesBody.split(write.body).get()
        #expect(write.method == "media.write" && Array(written.head) == Array(#"{"id":"m-2","offset":0}"#.utf8))
        #expect(Array(written.bytes) == [0xFF, 0xD8, 0xFF, 0xD9])
        #expect(write.encode() == (try vector("rpc.request.bytes-in")))
    }

    /// §6.9's malformed bodies, each with the 403 that says what is wrong.
    @Test func malformedBytesBodiesAreRefused() {
        let cases: [([UInt8], String)] = [
            ([], "the body has 0 bytes"),
            ([0, 0, 1], "the body has 3 bytes"),
            ([0, 0, 0x10, 0x01] + Array(repeating: 0x20, count: 5000), "at most 4096"),
            ([0, 0, 0, 9, 0x7B, 0x7D], "only 2 bytes follow"),
            ([0xFF, 0xFF, 0xFF, 0xFF, 0x7B], "at most 4096"),
        ]
        for (body, message) in cases {
            guard case .failure(let e) = RpcBytesBody.split(body) else {
                Issue.record("\(body.prefix(8)) was accepted")
                continue
            }
            #expect(e.code == .badRequest && e.message.contains(message), "\(e.message)")
        }
        let empty = try? RpcBytesBody.split([0, 0, 0, 2, 0x7B, 0x7D]).get()
        #expect(empty.map { Array($0.head) } == [0x7B, 0x7D] && empty?.bytes.isEmpty == true, "no bytes is fine")
    }

    @Test func requestDecodesAndEncodesByteForByte() throws {
        let frames = try vector("rpc.request")
        #expect(try RpcRequest.decode(frames).get() == Self.request)
        #expect(Self.request.encode() == frames)
    }

    @Test func answersDecodeAndEncodeByteForByte() throws {
        let reply = RpcReply.reply(requestID: Array("r-1".utf8), body: Array(#"{"displayName":"Ada","id":"u-1"}"#.utf8))
        #expect(try RpcReply.decode(try vector("rpc.reply")).get() == reply)
        #expect(reply.encode() == (try vector("rpc.reply")))

        let overloaded = try RpcReply.decode(try vector("rpc.error.overloaded")).get()
        guard case .error(let e, let id) = overloaded else {
            Issue.record("not an ERROR")
            return
        }
        #expect(e.code == .overloaded && id == Array("r-1".utf8))
        #expect(overloaded.encode() == (try vector("rpc.error.overloaded")))
    }

    /// The same call naming its incarnation, and the 408 of a server of another (§6.3).
    @Test func aTargetedRequestAndItsWrongInstanceAnswer() throws {
        var targeted = Self.request
        targeted.headers.target = RpcHeaders.target(
            service: "profiles", instance: "profiles-1", epoch: 1_796_315_579_940_739_584)
        let frames = try vector("rpc.request.targeted")
        #expect(try RpcRequest.decode(frames).get() == targeted)
        #expect(targeted.encode() == frames)
        let answer = try RpcReply.decode(try vector("rpc.error.wrong-instance")).get()
        guard case .error(let e, let id) = answer else {
            Issue.record("not an ERROR")
            return
        }
        #expect(e.code == .wrongInstance && e.code.name == "wrong-instance" && id == Array("r-1".utf8))
        #expect(answer.encode() == (try vector("rpc.error.wrong-instance")))
    }

    /// An empty request id cannot be echoed: 101 without a context frame (§6.3).
    @Test func anEmptyRequestIDIsMalformedWithoutContext() throws {
        guard case .failure(let failure) = RpcRequest.decode(try vector("rpc.request.empty-id")) else {
            Issue.record("an empty request id was accepted")
            return
        }
        #expect(failure.requestID == nil)
        #expect(failure.reply.encode() == (try vector("rpc.error.malformed")))
    }
}
