import Foundation
import MetroKit
import MetroProtocol
import MetroTestKit
import Testing
import VideoProcessing

#if canImport(Glibc)
    import Glibc
#endif

/// `metro worker video` with the real ffprobe/ffmpeg, as real processes: broker,
/// registry, worker. Serialized: ffmpeg is CPU-heavy on a 2-core box.
@Suite(.serialized) struct VideoMediaTests {
    @Test func aRealClipUploadedByPathAndByChunksEndsProcessedWithItsMedia() async throws {
        let s = try await VideoStack()
        let folder = try TemporaryDirectory()
        try await closing(s.rpc) {
            let clip = try await makeClip(in: folder)
            let byPath = try await s.rpc.call(
                VideoAPI.upload, UploadRequest(ownerId: "u-1", title: "Lighthouse", tags: ["Sea"], path: clip))
            #expect(byPath.status == .uploaded && byPath.tags == ["sea"])
            let processed = try await s.settled(byPath.videoId)
            #expect(processed.status == .processed)
            let media = try #require(processed.media)
            #expect(abs(media.durationSeconds - 2) < 0.1 && media.width == 320 && media.height == 240)
            #expect(media.videoCodec == "h264" && media.audioCodec == "aac" && media.frameRate == 25)
            let thumbnail = try #require(processed.thumbnailBlobId)
            let preview = try #require(processed.previewBlobId)
            for blob in [processed.sourceBlobId, thumbnail, preview] { #expect(s.blobs.contains(blob)) }
            #expect(processed.synthetic == nil)
            // The preview's first 10,000 bytes through both media methods: raw after a
            // head (protocol.md §6.9) and base64 in JSON (kept for older callers).
            let stored = try s.blobs.read(preview)
            let ask = MediaReadRequest(videoId: byPath.videoId, kind: "preview", offset: 0, length: 10_000)
            let raw = try await s.rpc.call(VideoAPI.mediaBytes, ask)
            #expect(raw.head.blobId == preview && raw.head.totalBytes == Int64(stored.count))
            #expect(raw.head.length == 10_000 && raw.head.contentType == "video/mp4")
            #expect(Array(raw.bytes) == Array(stored.prefix(10_000)))
            let old = try await s.rpc.call(VideoAPI.mediaRead, ask)
            #expect(Data(base64Encoded: old.data).map { [UInt8]($0) } == Array(raw.bytes))
            let tail = MediaReadRequest(
                videoId: byPath.videoId, kind: "preview", offset: Int64(stored.count - 10), length: 100)
            #expect(Array(try await s.rpc.call(VideoAPI.mediaBytes, tail).bytes) == Array(stored.suffix(10)))

            // The same bytes in 10 KiB chunks, one sent twice, by turns raw after a
            // head (`video.upload.bytes`, protocol.md §6.9) and in base64: the same
            // source blob, and (bit-exact outputs) the same thumbnail and preview.
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: clip)))
            let begun = try await s.rpc.call(
                VideoAPI.uploadBegin,
                UploadBeginRequest(ownerId: "u-1", title: "Lighthouse again", sizeBytes: Int64(bytes.count)))
            var offset = 0
            var rawChunk = true
            while offset < bytes.count {
                let piece = bytes[offset..<min(offset + 10_240, bytes.count)]
                let answer: UploadChunkResponse
                if rawChunk {
                    let chunk = RpcBytes(
                        head: UploadBytesHead(uploadId: begun.uploadId, offset: Int64(offset)), bytes: piece)
                    answer = try await s.rpc.call(VideoAPI.uploadBytes, chunk)
                    if offset == 0 { #expect(try await s.rpc.call(VideoAPI.uploadBytes, chunk) == answer) }
                } else {
                    let chunk = UploadChunkRequest(
                        uploadId: begun.uploadId, offset: Int64(offset), data: Data(piece).base64EncodedString())
                    answer = try await s.rpc.call(VideoAPI.uploadChunk, chunk)
                }
                rawChunk.toggle()
                offset = Int(answer.receivedBytes)
            }
            // A body that is not a head and bytes: 403, naming what is wrong.
            do {
                _ = try await s.rpc.call(method: VideoAPI.uploadBytes.name, body: [0, 0, 0x20, 0, 0x7B])
                Issue.record("a malformed video.upload.bytes was taken")
            } catch {
                #expect(
                    (error as? MetroClientError)?.wireCode == .badRequest && "\(error)".contains("head"), "\(error)")
            }
            let finish = UploadFinishRequest(uploadId: begun.uploadId, sha256: byPath.sourceBlobId)
            let chunked = try await s.rpc.call(VideoAPI.uploadFinish, finish)
            #expect(try await s.rpc.call(VideoAPI.uploadFinish, finish).videoId == chunked.videoId)
            #expect(chunked.sourceBlobId == byPath.sourceBlobId && chunked.sizeBytes == Int64(bytes.count))
            let second = try await s.settled(chunked.videoId)
            #expect(second.status == .processed && second.media == processed.media)
            #expect(second.thumbnailBlobId == thumbnail && second.previewBlobId == preview)
            // One video.uploaded and one video.processed per video.
            #expect(Set(try await s.journaledVideoIDs("video.uploaded")) == [byPath.videoId, chunked.videoId])
            // A final status is the commit; its outcome event is an outbox row the relay
            // publishes just after, so the journal may not have it yet.
            try await eventually("both outcomes journaled") {
                try await s.journaledVideoIDs("video.processed").count >= 2
            }
            #expect(
                try await s.journaledVideoIDs("video.processed").sorted() == [byPath.videoId, chunked.videoId].sorted())
            let page = try await s.rpc.call(VideoAPI.list, ListVideosRequest(ownerId: "u-1", status: .processed))
            #expect(page.videos.map(\.videoId) == [chunked.videoId, byPath.videoId])
        }
        await s.close()
    }

    @Test func aTextFileEndsFailedWithAReason() async throws {
        let s = try await VideoStack()
        try await closing(s.rpc) {
            let text = Data("this is a shopping list, not a video\n".utf8).base64EncodedString()
            let uploaded = try await s.rpc.call(
                VideoAPI.upload,
                UploadRequest(ownerId: "u-1", title: "Not a video", contentType: "video/mp4", data: text))
            let failed = try await s.settled(uploaded.videoId)
            #expect(failed.status == .failed)
            #expect(failed.failureReason?.hasPrefix("ffprobe: ") == true)
            #expect(failed.failureReason?.contains("Invalid data") == true)
            // Published by the outbox relay just after the commit that made the status final.
            try await eventually("video.failed journaled") { try await !s.journaled("video.failed").isEmpty }
            let events = try await s.journaled("video.failed")
            #expect(events.count == 1)
            let payload = try JSONDecoder().decode(VideoFailed.self, from: Data(try #require(events.first).payload))
            #expect(payload.videoId == uploaded.videoId && payload.reason == failed.failureReason)
            #expect(try await s.journaled("video.processed").isEmpty)
            // Neither path nor data, or both: 403 naming the field.
            await #expect(throws: MetroClientError.self) {
                _ = try await s.rpc.call(VideoAPI.upload, UploadRequest(ownerId: "u-1", title: "t"))
            }
        }
        await s.close()
    }

    /// ffmpeg made slow with `-re` (input read at its native rate) through a
    /// wrapper given as `--ffmpeg`, so SIGTERM lands mid-job.
    @Test func sigtermDuringAnFFmpegJobLeavesNoFFmpegBehind() async throws {
        let folder = try TemporaryDirectory()
        let wrapper = folder.url.appendingPathComponent("slow-ffmpeg").path
        try "#!/bin/sh\nexec ffmpeg -re \"$@\"\n".write(toFile: wrapper, atomically: true, encoding: .utf8)
        chmod(wrapper, 0o755)
        let s = try await VideoStack(extra: ["--ffmpeg", wrapper])
        try await closing(s.rpc) {
            let clip = try await makeClip(in: folder, seconds: 30, size: "160x120")
            let uploaded = try await s.rpc.call(
                VideoAPI.upload, UploadRequest(ownerId: "u-1", title: "Long", path: clip))
            let worker = s.workers[0]
            // The preview's ffmpeg (the long run: it reads the clip at its native
            // rate) has a path under the worker's data folder among its arguments.
            let data = worker.data.path
            try await eventually("the preview's ffmpeg running", timeout: .seconds(30)) {
                processes(named: "ffmpeg", withArgumentContaining: data).contains { pid in
                    ((try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)) ?? "").contains("libx264")
                }
            }
            worker.process.kill(SIGTERM)
            #expect(await worker.exit(timeout: .seconds(20)) == 0)
            // None left, wherever it was reparented.
            #expect(processes(named: "ffmpeg", withArgumentContaining: data).allSatisfy { !isAlive($0) })
            // The job was interrupted, not failed: the video waits for the next worker.
            #expect(try worker.read { try VideoStore.get(id: uploaded.videoId, in: $0) }.status == .processing)
        }
        await s.close()
    }
}
