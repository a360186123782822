import Foundation
import MetroKit
import MetroProtocol
import MetroTestKit
import Synchronization

/// Stands in for the video service (spec15 §B) until its branch lands: an
/// in-process `RpcServer` registered as `video`, answering
/// `video.upload.begin/chunk/finish` and `video.get` as the spec says. It checks
/// every byte it receives against `UploadPattern` where it arrives, so an upload
/// of any size is verified without anyone holding it whole, and records the
/// chunks' offsets, sizes and request ids.
final class FakeVideoService: Sendable {
    struct Chunk: Sendable, Equatable {
        var offset: Int64
        var bytes: Int
    }

    struct State: Sendable {
        var chunks: [Chunk] = []
        var received: Int64 = 0
        var mismatches = 0
        var finished: [String] = []
        var requestIDs: Set<String> = []
        var begun: [String: String] = [:]
        /// Every method called, in order.
        var methods: [String] = []
    }

    /// What it answers to `video.media.bytes` (its `video.media.read` serves a
    /// preview of `mediaBytes` bytes of `UploadPattern`, blob `fake-blob`).
    enum MediaBytes: Sendable {
        /// 400 `unknown-method`, as a video worker older than the method does.
        case absent
        /// A body that is not a head and bytes (protocol.md §6.9).
        case garbage
    }

    static let mediaBytes: Int64 = 300_000

    let server: RpcServer
    let endpoint: String
    let state: Recorder<State>
    private let registry: RegistryClient

    /// Registered with the longest lease the registry grants (it never heartbeats):
    /// a loaded machine must not see it expire mid-test.
    /// `uploadBytes` false: it has no `video.upload.bytes` (400 `unknown-method`),
    /// as a video worker older than that method; its chunks come by `video.upload.chunk`.
    init(
        registry endpoint: String, maxChunkBytes: Int = 1 << 20, mediaBytes: MediaBytes = .absent,
        uploadBytes: Bool = true
    ) async throws {
        let state = Recorder(State())
        self.state = state
        // Handlers on the server's I/O thread: checking 96 MiB byte by byte (a debug
        // build, base64 and JSON included) is seconds of CPU, which on the cooperative
        // pool (two threads here) stalled every other test of the suite for ~15 s.
        var options = RpcServer.Options(drainTimeout: .milliseconds(100))
        options.handlersOnIOThread = true
        server = try RpcServer(options) { inbound in
            Self.handle(inbound, state, maxChunkBytes, mediaBytes, uploadBytes)
        }
        self.endpoint = try await server.start()
        registry = try RegistryClient(endpoints: [endpoint])
        _ = try await registry.register(
            Registration(
                service: "video", instance: "fake-video-1", epoch: 1, endpoints: [self.endpoint],
                ttlMilliseconds: 600_000))
    }

    func close() async {
        await registry.close()
        await server.close()
    }

    private static func handle(
        _ inbound: RpcInbound, _ state: Recorder<State>, _ maxChunkBytes: Int, _ mediaBytes: MediaBytes,
        _ uploadBytes: Bool
    ) -> RpcOutcome {
        var body = (try? JSONSerialization.jsonObject(with: Data(inbound.body)) as? [String: Any]) ?? [:]
        var raw: [UInt8]? = nil
        if inbound.method == "video.upload.bytes" && uploadBytes {
            // protocol.md §6.9: a JSON head, then the chunk's bytes raw.
            guard case .success(let parts) = RpcBytesBody.split(inbound.body),
                let head = try? JSONSerialization.jsonObject(with: Data(parts.head)) as? [String: Any]
            else { return .error(WireError(.badRequest, "not a head and bytes")) }
            body = head
            raw = Array(parts.bytes)
        }
        state.value.withLock { $0.methods.append(inbound.method) }
        if let id = inbound.headers.requestID { state.value.withLock { _ = $0.requestIDs.insert(id) } }
        func reply(_ object: [String: Any]) -> RpcOutcome {
            .reply(Array((try? JSONSerialization.data(withJSONObject: object)) ?? Data()))
        }
        switch inbound.method {
        case "video.upload.begin":
            guard let owner = body["ownerId"] as? String, body["title"] is String else {
                return .error(WireError(.badRequest, "ownerId: is required"))
            }
            let upload = "up-\(UUID().uuidString.prefix(8))"
            state.value.withLock { $0.begun[upload] = owner }
            return reply(["uploadId": upload, "maxChunkBytes": maxChunkBytes])
        case "video.upload.chunk",
            "video.upload.bytes" where uploadBytes:
            guard let upload = body["uploadId"] as? String, let offset = (body["offset"] as? NSNumber)?.int64Value,
                let data = raw ?? (body["data"] as? String).flatMap({ Data(base64Encoded: $0) }).map({ [UInt8]($0) })
            else { return .error(WireError(.badRequest, "data: not base64")) }
            let received = state.value.withLock { s -> Int64 in
                if s.received == offset {
                    s.chunks.append(Chunk(offset: offset, bytes: data.count))
                    var i = offset
                    for byte in data {
                        if byte != UploadPattern.byte(at: i) { s.mismatches += 1 }
                        i += 1
                    }
                    s.received += Int64(data.count)
                }
                return s.received
            }
            return reply(["uploadId": upload, "receivedBytes": received])
        case "video.upload.finish":
            guard let upload = body["uploadId"] as? String else { return .error(WireError(.badRequest, "uploadId")) }
            let video = "vid-\(upload.dropFirst(3))"
            state.value.withLock { $0.finished.append(video) }
            return reply(["videoId": video, "status": "uploaded"])
        case "video.get":
            return .error(WireError(.notFound, "no video \(body["videoId"] ?? "")"))
        case "video.media.bytes" where mediaBytes == .garbage:
            return .reply([0, 0, 0x10, 0, 0x7B])
        case "video.media.read":
            guard let offset = (body["offset"] as? NSNumber)?.int64Value, let length = body["length"] as? Int
            else { return .error(WireError(.badRequest, "offset, length: required")) }
            let end = min(Self.mediaBytes, offset + Int64(length))
            let bytes = offset < end ? (offset..<end).map(UploadPattern.byte(at:)) : []
            return reply([
                "videoId": body["videoId"] ?? "", "kind": body["kind"] ?? "", "blobId": "fake-blob",
                "contentType": "video/mp4", "totalBytes": Self.mediaBytes, "offset": offset,
                "data": Data(bytes).base64EncodedString(),
            ])
        default:
            return .error(WireError(.unknownMethod, "no method \(inbound.method)"))
        }
    }
}

/// The bytes of a test upload: a function of the offset, so a generator can make
/// them piece by piece and the receiver can check them where they arrive.
enum UploadPattern {
    static func byte(at offset: Int64) -> UInt8 { UInt8(truncatingIfNeeded: (offset &* 31) &+ (offset >> 13) &+ 7) }

    static func piece(_ index: Int, size: Int) -> [UInt8] {
        let start = Int64(index) * Int64(size)
        return (0..<size).map { byte(at: start + Int64($0)) }
    }
}
