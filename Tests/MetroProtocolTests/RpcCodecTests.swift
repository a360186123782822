import MetroProtocol
import Testing

/// The rpc codec (protocol.md §6): round trips, and the one answer §6.3 gives each bad message.
@Suite struct RpcCodecTests {
    static let good = RpcRequest(
        requestID: Array("r-1".utf8), method: "profile.get", deadlineMilliseconds: 1500,
        headers: RpcHeaders(requestID: "abc", traceparent: "00-4bf9-00f0-01"), body: Array("{\"id\":\"u1\"}".utf8))

    /// The good request with frame `index` replaced (or removed with nil).
    func frames(_ index: Int, _ frame: [UInt8]?) -> [[UInt8]] {
        var f = Self.good.encode()
        if let frame { f[index] = frame } else { f.remove(at: index) }
        return f
    }

    func failure(_ frames: [[UInt8]], maxBodyBytes: Int = 1024) -> RpcRequest.Failure? {
        if case .failure(let f) = RpcRequest.decode(frames, maxBodyBytes: maxBodyBytes) { return f }
        return nil
    }

    @Test func requestRoundTrips() throws {
        let frames = Self.good.encode()
        #expect(frames.count == RpcRequest.frameCount)
        #expect(frames[4] == [0, 0, 0x05, 0xdc])
        #expect(frames[5] == Array(#"{"requestId":"abc","traceparent":"00-4bf9-00f0-01"}"#.utf8))
        #expect(try RpcRequest.decode(frames).get() == Self.good)
        let bare = RpcRequest(requestID: [0], method: "a", deadlineMilliseconds: 0)
        #expect(bare.encode()[5] == Array("{}".utf8))
        #expect(try RpcRequest.decode(bare.encode()).get() == bare)
    }

    @Test func repliesRoundTrip() throws {
        let ok = RpcReply.reply(requestID: Array("r-1".utf8), body: Array("{}".utf8))
        #expect(
            ok.encode() == [
                Array("metro/1".utf8), Array("REPLY".utf8), Array("r-1".utf8), [0x7b, 0x7d], [0x7b, 0x7d],
            ])
        #expect(try RpcReply.decode(ok.encode()).get() == ok)
        let error = RpcReply.error(WireError(.overloaded, "busy"), requestID: Array("r-1".utf8))
        #expect(error.encode().count == 5)
        #expect(try RpcReply.decode(error.encode()).get() == error)
        let bare = RpcReply.error(WireError(.malformedMessage, "no"), requestID: nil)
        #expect(try RpcReply.decode(bare.encode()).get() == bare)
        #expect(throws: WireError.self) { try RpcReply.decode([Array("metro/1".utf8), Array("REPLY".utf8)]).get() }
        #expect(throws: WireError.self) {
            try RpcReply.decode([Array("metro/1".utf8), Array("ERROR".utf8), Array("999".utf8), []]).get()
        }
    }

    @Test func frameLevelFaultsInTheOrderOfTheSpec() {
        let id = Array("r-1".utf8)
        let cases: [([[UInt8]], WireErrorCode, [UInt8]?)] = [
            ([], .malformedMessage, nil),
            (frames(0, []), .malformedMessage, id),
            (frames(0, Array("metro/2".utf8)), .unsupportedVersion, id),
            ([Array("metro/1".utf8)], .malformedMessage, nil),
            (frames(1, Array("CALL".utf8)), .unknownCommand, id),
            (frames(6, nil), .malformedMessage, id),
            (Self.good.encode() + [[]], .malformedMessage, id),
            (frames(2, []), .malformedMessage, nil),
            (frames(2, [UInt8](repeating: 0x61, count: 65)), .malformedMessage, nil),
            (frames(3, []), .invalidArgument, id),
            (frames(3, Array("profile get".utf8)), .invalidArgument, id),
            (frames(3, [0x70, 0xff]), .invalidUTF8, id),
            (frames(3, [UInt8](repeating: 0x61, count: 129)), .tooLarge, id),
            (frames(4, [0, 0, 1]), .malformedMessage, id),
            (frames(4, [0, 0, 0, 0, 1]), .malformedMessage, id),
            (frames(5, [0x7b, 0xff, 0x7d]), .invalidUTF8, id),
            (frames(5, Array("[]".utf8)), .invalidJSON, id),
            (frames(5, Array("{\"a\":1,\"a\":2}".utf8)), .invalidJSON, id),
            (frames(5, Array("{\"requestId\":1}".utf8)), .invalidJSON, id),
            (frames(5, Array("{".utf8)), .invalidJSON, id),
            (frames(5, [UInt8](repeating: 0x20, count: 4097)), .tooLarge, id),
            (frames(6, [UInt8](repeating: 0, count: 1025)), .tooLarge, id),
        ]
        for (i, (message, code, context)) in cases.enumerated() {
            let f = failure(message)
            #expect(f?.error.code == code, "case \(i)")
            #expect(f?.requestID == context, "case \(i)")
            #expect(f?.reply.encode().last == (context ?? f?.reply.encode()[3]), "case \(i)")
        }
    }

    @Test func limitsAreInclusive() throws {
        let longest = RpcRequest(
            requestID: [UInt8](repeating: 1, count: 64), method: String(repeating: "m", count: 128),
            deadlineMilliseconds: .max, headers: .init(), body: [UInt8](repeating: 7, count: 1024))
        #expect(try RpcRequest.decode(longest.encode(), maxBodyBytes: 1024).get() == longest)
        #expect(RpcLimits.validateMethod(Array("Az09._-".utf8)) == nil)
        // Unknown header members are ignored; a 4096-byte headers frame is fine.
        var headers = Array(#"{"x":""#.utf8)
        headers += [UInt8](repeating: 0x61, count: 4096 - headers.count - 2) + Array(#""}"#.utf8)
        #expect(headers.count == 4096)
        #expect(try RpcRequest.decode(frames(5, headers)).get().headers == RpcHeaders())
    }
}
