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
                "rpc.request.targeted", "rpc.error.wrong-instance",
            ])
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
