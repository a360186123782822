import Foundation
import MetroTestKit
import Synchronization
import Testing
import VideoProcessing

/// A processed video's thumbnail and preview through the gateway
/// (`GET /v1/videos/{id}/thumbnail|preview`), byte for byte what the video
/// service stored, streamed in 4 KiB pieces of `video.media.bytes`, with ranges,
/// the blob ETag and the errors. Real broker, registry, video worker (ffmpeg)
/// and gateway. Until 2026-12-04 the outputs could not be fetched over HTTP at
/// all: a client saw `previewBlobId` and nothing to play.
@Suite(.serialized) struct GatewayMediaTests {
    @Test func theOutputsOfAProcessedVideoAreServedWithRangesAndETags() async throws {
        let stack = try await ServiceStack()
        let video = try await stack.start(VideoKind.self)[0]
        let gateway = try await GatewayUnderTest(
            broker: stack.broker, registry: stack.registry.endpoint, extra: ["--media-piece-bytes", "4096"])
        let folder = try TemporaryDirectory()
        let clipURL = folder.url.appendingPathComponent("clip.mp4")
        try await TestClip.make(clipURL, seconds: 2, width: 320, height: 240)
        let blobs = BlobStore(dataFolder: video.data.path)
        try await closing(stack) {
            let clip = Array(try Data(contentsOf: clipURL))
            let id = try await GatewayStoryTests.upload(gateway, clip, owner: "u-1", title: "Clip", tags: "sea")
            let processed = try await GatewayStoryTests.waitUntilProcessed(gateway, id)
            let thumbnailID = try #require(processed["thumbnailBlobId"] as? String)
            let previewID = try #require(processed["previewBlobId"] as? String)

            let thumbnail = try await HTTPTestClient.send(gateway.address, "GET", "/v1/videos/\(id)/thumbnail")
            #expect(thumbnail.status == 200, "\(thumbnail.text)")
            #expect(thumbnail.headers["content-type"] == "image/jpeg")
            #expect(thumbnail.headers["etag"] == "\"\(thumbnailID)\"")
            #expect(thumbnail.body == (try blobs.read(thumbnailID)))
            #expect(thumbnail.body.starts(with: [0xFF, 0xD8, 0xFF]), "a JPEG")

            let stored = try blobs.read(previewID)
            #expect(stored.count > 3 * 4096, "several pieces: \(stored.count) bytes")
            let preview = try await HTTPTestClient.send(gateway.address, "GET", "/v1/videos/\(id)/preview")
            #expect(preview.status == 200 && preview.headers["content-type"] == "video/mp4")
            #expect(preview.headers["accept-ranges"] == "bytes")
            #expect(preview.headers["content-length"] == "\(stored.count)")
            #expect(preview.body == stored, "byte for byte")

            let total = stored.count
            for (range, slice) in [
                ("bytes=100-199", 100...199), ("bytes=20000-", 20000...(total - 1)),
                ("bytes=-50", (total - 50)...(total - 1)), ("bytes=0-999999999", 0...(total - 1)),
            ] {
                let part = try await HTTPTestClient.send(
                    gateway.address, "GET", "/v1/videos/\(id)/preview", headers: ["Range": range])
                #expect(part.status == 206, "\(range): \(part.status)")
                #expect(part.headers["content-range"] == "bytes \(slice.lowerBound)-\(slice.upperBound)/\(total)")
                #expect(part.body == Array(stored[slice]), "\(range)")
            }
            let past = try await HTTPTestClient.send(
                gateway.address, "GET", "/v1/videos/\(id)/preview", headers: ["Range": "bytes=\(total)-"])
            #expect(past.status == 416 && past.isProblem && past.headers["content-range"] == "bytes */\(total)")
            let ignored = try await HTTPTestClient.send(
                gateway.address, "GET", "/v1/videos/\(id)/preview", headers: ["Range": "bytes=0-1,5-9"])
            #expect(ignored.status == 200 && ignored.body == stored, "several ranges: the whole body")

            // HEAD: the headers of the GET after a 1-byte piece, no body.
            let head = try await HTTPTestClient.send(gateway.address, "HEAD", "/v1/videos/\(id)/preview")
            #expect(head.status == 200 && head.body.isEmpty, "\(head.status), \(head.body.count) bytes")
            #expect(head.headers["content-length"] == "\(total)" && head.headers["etag"] == "\"\(previewID)\"")
            #expect(head.headers["content-type"] == "video/mp4" && head.headers["accept-ranges"] == "bytes")
            let headRange = try await HTTPTestClient.send(
                gateway.address, "HEAD", "/v1/videos/\(id)/preview", headers: ["Range": "bytes=100-199"])
            #expect(headRange.status == 206 && headRange.body.isEmpty)
            #expect(headRange.headers["content-range"] == "bytes 100-199/\(total)")
            #expect(headRange.headers["content-length"] == "100")

            let cached = try await HTTPTestClient.send(
                gateway.address, "GET", "/v1/videos/\(id)/preview", headers: ["If-None-Match": "\"\(previewID)\""])
            #expect(cached.status == 304 && cached.body.isEmpty)
            #expect(cached.headers["etag"] == "\"\(previewID)\"")

            // A video with no outputs: 409; none at all: 404.
            let broken = try await GatewayStoryTests.upload(
                gateway, Array("not a video".utf8), owner: "u-1", title: "Broken", tags: "sea")
            try await eventually("the broken upload failed", timeout: .seconds(60)) {
                try await gateway.get("/v1/videos/\(broken)").json["status"] as? String == "failed"
            }
            let none = try await HTTPTestClient.send(gateway.address, "GET", "/v1/videos/\(broken)/thumbnail")
            #expect(none.status == 409 && none.isProblem, "\(none.text)")
            let unknown = try await HTTPTestClient.send(gateway.address, "GET", "/v1/videos/no-such-video/preview")
            #expect(unknown.status == 404 && unknown.isProblem)
        }
    }

    /// A video worker older than `video.media.bytes` answers it 400: the gateway
    /// asks the piece again with `video.media.read` (base64) and serves the same
    /// bytes, so the gateway may be upgraded before the workers.
    @Test func aVideoWorkerWithoutMediaBytesIsReadInBase64() async throws {
        let s = try await GatewayStack(gatewayArguments: ["--media-piece-bytes", "65536"])
        let video = try await FakeVideoService(registry: s.registry.endpoint, mediaBytes: .absent)
        let total = Int(FakeVideoService.mediaBytes)
        let expected = (0..<Int64(total)).map(UploadPattern.byte(at:))
        let preview = try await HTTPTestClient.send(s.gateway.address, "GET", "/v1/videos/v-1/preview")
        #expect(preview.status == 200, "\(preview.text)")
        #expect(preview.headers["content-length"] == "\(total)" && preview.headers["etag"] == "\"fake-blob\"")
        #expect(preview.body == expected, "byte for byte")
        let part = try await HTTPTestClient.send(
            s.gateway.address, "GET", "/v1/videos/v-1/preview", headers: ["Range": "bytes=70000-70099"])
        #expect(part.status == 206 && part.body == Array(expected[70000...70099]))
        let methods = video.state.value.withLock { $0.methods }
        #expect(methods.first == "video.media.bytes", "the raw form is asked first: \(methods)")
        #expect(methods.filter { $0 == "video.media.read" }.count == methods.filter { $0 == "video.media.bytes" }.count)
        await video.close()
    }

    /// An answer to `video.media.bytes` that is not a head and bytes (§6.9) is the
    /// upstream's fault: 502 with a problem body, and the gateway goes on.
    @Test func aMalformedMediaAnswerIs502() async throws {
        let s = try await GatewayStack()
        let video = try await FakeVideoService(registry: s.registry.endpoint, mediaBytes: .garbage)
        let preview = try await HTTPTestClient.send(s.gateway.address, "GET", "/v1/videos/v-1/preview")
        #expect(preview.status == 502 && preview.isProblem, "\(preview.status) \(preview.text)")
        #expect(preview.text.contains("head length"), "\(preview.text)")
        let health = try await HTTPTestClient.send(s.gateway.address, "GET", "/healthz")
        #expect(health.status == 200)
        await video.close()
    }
}
