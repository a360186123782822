import MetroProtocol
import MetroTestSupport
import Testing

/// Decodes and re-encodes every registry vector of protocol.md Appendix A.5.
@Suite struct RegistryVectorTests {
    static let epoch: UInt64 = 1_732_700_000_000_000_000
    static let registration = Registration(
        service: "profiles", instance: "profiles-1", epoch: epoch, endpoints: ["tcp://10.0.0.5:7001"],
        metadata: ["version": "1.4.2"], ttlMilliseconds: 5000)
    static let key = InstanceKey(service: "profiles", instance: "profiles-1", epoch: epoch)

    let vectors: [String: [[UInt8]]]

    init() throws { vectors = try ProtocolVectors.load(prefix: "registry.") }

    func vector(_ name: String) throws -> [[UInt8]] {
        try #require(vectors[name], "protocol.md has no vector \(name)")
    }

    @Test func theDocumentHasEveryRegistryVector() {
        #expect(vectors.count == 14)
    }

    @Test func requestsDecodeAndEncodeByteForByte() throws {
        let expected: [String: RegistryRequest] = [
            "registry.register.request": .register(Self.registration),
            "registry.heartbeat.request": .heartbeat(Self.key),
            "registry.deregister.request": .deregister(Self.key),
            "registry.lookup.request": .lookup(service: "profiles"),
            "registry.list.request": .list,
        ]
        for (name, request) in expected {
            let frames = try vector(name)
            #expect(try RegistryRequest.decode(frames).get() == request, "\(name)")
            #expect(request.encode() == frames, "\(name)")
        }
    }

    @Test func repliesDecodeAndEncodeByteForByte() throws {
        let register = try vector("registry.register.reply")
        #expect(
            try RegistryReply.decode(register).get().result(LeaseGrant.self).get() == LeaseGrant(ttlMilliseconds: 5000))
        #expect(RegistryReply.ok(LeaseGrant(ttlMilliseconds: 5000)).encode() == register)
        #expect(try vector("registry.heartbeat.reply") == register)

        let lookup = try vector("registry.lookup.reply")
        let result = LookupResult(
            service: "profiles",
            instances: [
                InstanceInfo(
                    instance: "profiles-1", epoch: Self.epoch, endpoints: ["tcp://10.0.0.5:7001"],
                    metadata: ["version": "1.4.2"])
            ])
        #expect(try RegistryReply.decode(lookup).get().result(LookupResult.self).get() == result)
        #expect(RegistryReply.ok(result).encode() == lookup)
        var warming = result
        warming.warming = true
        let warmingVector = try vector("registry.lookup.reply.warming")
        #expect(try RegistryReply.decode(warmingVector).get().result(LookupResult.self).get() == warming)
        #expect(RegistryReply.ok(warming).encode() == warmingVector)

        let error = try vector("registry.error.unknown-instance")
        let decoded = try RegistryReply.decode(error).get()
        guard case .error(let e) = decoded else { Issue.record("not an error"); return }
        #expect(e.code == .unknownInstance)
        #expect(RegistryReply.error(e).encode() == error)

        #expect(try vector("registry.deregister.reply") == RegistryReply.ok(body: Array("{}".utf8)).encode())
    }

    /// §5.2: `ttl_ms: -1` is a JSON integer out of range, 304.
    @Test func aNegativeTTLIsOutOfRange() throws {
        let request = try vector("registry.register.request.negative-ttl")
        guard case .failure(let e) = RegistryRequest.decode(request) else {
            Issue.record("a ttl_ms of -1 was accepted")
            return
        }
        #expect(RegistryReply.error(e).encode() == (try vector("registry.error.ttl-out-of-range")))
    }

    @Test func membershipEventDecodesAndEncodesByteForByte() throws {
        let frames = try vector("registry.event.registered")
        let event = try #require(MembershipEvent.decode(frames))
        #expect(
            event == MembershipEvent(.registered, Self.registration, timestampNanoseconds: 1_732_700_000_123_456_789))
        #expect(event.encode() == frames)
    }
}
