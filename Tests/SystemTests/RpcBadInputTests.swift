import Foundation
import MetroKit
import MetroProtocol
import MetroTestKit
import Testing

/// Every kind of bad rpc message gets its error (protocol.md §6.3) with the request
/// id whenever it was readable, is counted, and the server keeps serving.
@Suite struct RpcBadInputTests {
    static let id = Array("b-1".utf8)

    /// The good request with frame `index` replaced (nil removes it).
    static func frames(_ index: Int, _ frame: [UInt8]?) -> [[UInt8]] {
        var f = rpcRequest("b-1", "test.echo", "x").encode()
        if let frame { f[index] = frame } else { f.remove(at: index) }
        return f
    }

    static let cases: [(what: String, message: [[UInt8]], code: WireErrorCode, context: [UInt8]?)] = [
        ("empty message", [[]], .malformedMessage, nil),
        ("version only", [Array("metro/1".utf8)], .malformedMessage, nil),
        ("wrong version", frames(0, Array("metro/2".utf8)), .unsupportedVersion, id),
        ("garbage version", frames(0, [0xff, 0x00]), .unsupportedVersion, id),
        ("unknown command", frames(1, Array("CALL".utf8)), .unknownCommand, id),
        ("a frame missing", frames(6, nil), .malformedMessage, id),
        ("a frame too many", frames(0, Array("metro/1".utf8)) + [[]], .malformedMessage, id),
        ("empty request id", frames(2, []), .malformedMessage, nil),
        ("65-byte request id", frames(2, [UInt8](repeating: 0x41, count: 65)), .malformedMessage, nil),
        ("empty method", frames(3, []), .invalidArgument, id),
        ("method with a space", frames(3, Array("test echo".utf8)), .invalidArgument, id),
        ("non-UTF-8 method", frames(3, [0x74, 0xc3, 0x28]), .invalidUTF8, id),
        ("129-byte method", frames(3, [UInt8](repeating: 0x6d, count: 129)), .tooLarge, id),
        ("3-byte deadline", frames(4, [0, 0, 1]), .malformedMessage, id),
        ("8-byte deadline", frames(4, [0, 0, 0, 0, 0, 0, 0, 1]), .malformedMessage, id),
        ("non-UTF-8 headers", frames(5, [0x7b, 0xff, 0x7d]), .invalidUTF8, id),
        ("headers not JSON", frames(5, Array("{requestId}".utf8)), .invalidJSON, id),
        ("headers an array", frames(5, Array("[]".utf8)), .invalidJSON, id),
        ("headers with a duplicate key", frames(5, Array(#"{"a":1,"a":1}"#.utf8)), .invalidJSON, id),
        ("requestId not a string", frames(5, Array(#"{"requestId":7}"#.utf8)), .invalidJSON, id),
        ("headers over 4 KiB", frames(5, Array("{}".utf8) + [UInt8](repeating: 0x20, count: 4095)), .tooLarge, id),
        ("body over maxBodyBytes", frames(6, [UInt8](repeating: 0x62, count: 2049)), .tooLarge, id),
    ]

    @Test func everyBadMessageGetsItsErrorAndTheServerKeepsServing() async throws {
        let server = try RpcServer(.init(maxBodyBytes: 2048), handler: testHandler(StartedHandlers()))
        let endpoint = try await server.start()
        do {
            let dealer = try RawDealer(endpoint)
            for c in Self.cases {
                let answer = try RpcReply.decode(try await dealer.call(c.message)).get()
                guard case .error(let e, let context) = answer else {
                    Issue.record("\(c.what): answered \(answer)")
                    continue
                }
                #expect(e.code == c.code, "\(c.what): \(e)")
                #expect(context == c.context, "\(c.what)")
            }
            #expect(server.stats.badFrames == UInt64(Self.cases.count))
            // A body of exactly maxBodyBytes is fine, and the server still serves.
            let full = String(repeating: "b", count: 2048)
            #expect(
                try await dealer.call(rpcRequest("ok-1", "test.echo", full))
                    == .reply(requestID: Array("ok-1".utf8), body: Array(full.utf8)))
            // A frame past ZeroMQ's limit (body limit + 64 KiB, §2.6) drops that
            // connection without an answer; the server serves everyone else.
            let huge = try RawDealer(endpoint)
            try await huge.send(Self.frames(6, [UInt8](repeating: 0, count: 2048 + 70_000)))
            await #expect(throws: WaitError.self) { try await huge.receive(timeout: .milliseconds(300)) }
            #expect(try await dealer.call(rpcRequest("ok-2", "test.echo")).requestID == Array("ok-2".utf8))
            #expect(server.stats.replies["ok"] == 2)
        } catch {
            await server.close()
            throw error
        }
        await server.close()
    }
}
