import Foundation
import MetroTestKit
import Synchronization
import Testing

/// `POST /v1/videos` streams the body to `video.upload.begin/chunk/finish`
/// (against `FakeVideoService` until the video service lands) and never holds it whole.
@Suite(.serialized) struct GatewayUploadTests {
    static func residentBytes(_ pid: Int32, _ field: String = "VmRSS") throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(field + ":") }),
            let kb = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
        else { throw WaitError.unexpected("no \(field) in /proc/\(pid)/status") }
        return kb * 1024
    }

    @Test func anUploadIsStreamedInChunksInOrderAndAnswered202() async throws {
        let s = try await GatewayStack(gatewayArguments: ["--upload-chunk-bytes", "65536"])
        let video = try await FakeVideoService(registry: s.registry.endpoint)
        let pieces = 48
        let size = 65_536 + 123  // pieces that do not line up with chunks
        let total = Int64(pieces * size)
        let reply = try await HTTPTestClient.stream(
            s.gateway.address, "POST", "/v1/videos?owner=u-1&title=Clip&tags=a,b",
            headers: ["Content-Type": "video/mp4", "X-Request-Id": "req-upload-1"], contentLength: total,
            pieces: pieces, piece: { UploadPattern.piece($0, size: size) })
        #expect(reply.status == 202, "\(reply.text)")
        let id = try #require(reply.json["videoId"] as? String)
        #expect(reply.json["statusUrl"] as? String == "/v1/videos/\(id)")
        #expect(reply.headers["location"] == "/v1/videos/\(id)")
        #expect((reply.json["sizeBytes"] as? Int).map(Int64.init) == total)
        let state = video.state.value.withLock { $0 }
        #expect(state.received == total && state.mismatches == 0)
        #expect(state.chunks.allSatisfy { $0.bytes <= 65_536 })
        #expect(state.chunks.count == Int((total + 65_535) / 65_536))
        #expect(state.finished == [id])
        #expect(state.requestIDs == ["req-upload-1"], "every rpc of the upload carries the request id")
        let chunkMethods = state.methods.filter { $0.hasPrefix("video.upload.") && $0 != "video.upload.begin" }
        #expect(
            chunkMethods == Array(repeating: "video.upload.bytes", count: state.chunks.count) + ["video.upload.finish"],
            "the chunks go raw (protocol.md §6.9): \(chunkMethods)")
        await video.close()
    }

    /// A video worker older than `video.upload.bytes` answers it 400: the gateway
    /// sends that chunk and the rest of the upload by `video.upload.chunk`
    /// (base64), and the upload succeeds byte for byte.
    @Test func aVideoWorkerWithoutUploadBytesGetsTheChunksInBase64() async throws {
        let s = try await GatewayStack(gatewayArguments: ["--upload-chunk-bytes", "65536"])
        let video = try await FakeVideoService(registry: s.registry.endpoint, uploadBytes: false)
        let total = Int64(5 * 65_536 + 17)
        let reply = try await HTTPTestClient.stream(
            s.gateway.address, "POST", "/v1/videos?owner=u-1&title=Old",
            headers: ["Content-Type": "video/mp4"], contentLength: total, pieces: 1,
            piece: { _ in UploadPattern.piece(0, size: Int(total)) })
        #expect(reply.status == 202, "\(reply.text)")
        let state = video.state.value.withLock { $0 }
        #expect(state.received == total && state.mismatches == 0 && state.chunks.count == 6)
        #expect(
            state.methods.filter { $0 == "video.upload.bytes" }.count == 1, "asked once per upload: \(state.methods)")
        #expect(state.methods.filter { $0 == "video.upload.chunk" }.count == 6)
        await video.close()
    }

    /// 96 MiB through a gateway whose peak resident memory grows by far less: the
    /// body is never held (one 512 KiB chunk at a time).
    @Test func aLargeUploadDoesNotGrowTheGatewaysMemory() async throws {
        let s = try await GatewayStack()
        let video = try await FakeVideoService(registry: s.registry.endpoint)
        let warm = try await HTTPTestClient.stream(
            s.gateway.address, "POST", "/v1/videos?owner=u-1&title=warm",
            headers: ["Content-Type": "video/mp4", "X-Request-Timeout": "30000"],
            contentLength: 1 << 20, pieces: 16, piece: { UploadPattern.piece($0, size: 65_536) })
        #expect(warm.status == 202)
        let before = try Self.residentBytes(s.gateway.process.pid)
        video.state.value.withLock { $0 = .init() }
        let size = 1 << 20
        let pieces = 96
        let reply = try await HTTPTestClient.stream(
            s.gateway.address, "POST", "/v1/videos?owner=u-1&title=big",
            headers: ["Content-Type": "video/mp4", "X-Request-Timeout": "30000"],
            contentLength: Int64(size * pieces), pieces: pieces, piece: { UploadPattern.piece($0, size: size) },
            timeout: .seconds(300))
        #expect(reply.status == 202, "\(reply.text)")
        let peak = try Self.residentBytes(s.gateway.process.pid, "VmHWM")
        let after = try Self.residentBytes(s.gateway.process.pid)
        let state = video.state.value.withLock { $0 }
        #expect(state.received == Int64(size * pieces) && state.mismatches == 0)
        #expect(
            peak - before < 32 << 20,
            "96 MiB uploaded; RSS \(before >> 20) MiB before, \(after >> 20) MiB after, peak \(peak >> 20) MiB")
        await video.close()
    }
}
