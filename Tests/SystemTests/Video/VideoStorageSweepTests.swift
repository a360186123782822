import Foundation
import GRDB
import MetroKit
import MetroTestKit
import Testing
import VideoProcessing

/// What failed uploads leave on the video service's disk, with real processes:
/// the gateway aborts the uploads it sees fail (`video.upload.abort`), and the
/// worker's storage sweep removes what nobody aborted (idle uploads) and blobs
/// that no video names. Until 2026-12-04 each of these stayed for ever: a client
/// that hung up 12 MB into an upload left a 12 MB part file and its row.
@Suite(.serialized) struct VideoStorageSweepTests {
    static func partFiles(_ worker: VideoWorker) -> [String] {
        let folder = worker.data.url.appendingPathComponent("video/uploads").path
        return ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted()
    }

    static func uploadRows(_ worker: VideoWorker) throws -> Int {
        try worker.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM uploads") ?? -1 }
    }

    /// The bytes of each upload the worker logged as aborted, in order.
    static func aborted(_ worker: VideoWorker) -> [String] {
        worker.process.stderrText.split(separator: "\n").filter { $0.contains("upload aborted") }.map { line in
            line.split(separator: " ").first { $0.hasPrefix("bytes=") }.map { String($0.dropFirst(6)) } ?? "?"
        }
    }

    @Test func uploadsThatFailThroughTheGatewayLeaveNoPartFile() async throws {
        let broker = try await BrokerHarness(config: GatewayStack.brokerConfig)
        let registry = try await RegistryUnderTest(broker: broker.publish)
        let video = try await VideoWorker.launch(
            broker: broker, registry: registry.endpoint, extra: ["--synthetic-work-ms", "10"])
        let gateway = try await GatewayUnderTest(
            broker: broker, registry: registry.endpoint,
            extra: ["--max-upload-bytes", "\(1 << 20)", "--upload-chunk-bytes", "65536"])
        let path = "/v1/videos?owner=u-1&title=t"
        try await eventually("an upload is accepted", timeout: .seconds(15)) {
            try await HTTPTestClient.send(
                gateway.address, "POST", path, headers: ["Content-Type": "video/mp4"], body: [1, 2, 3]
            ).status == 202
        }

        // Over the limit, its length known only as it streams (chunked): 413 after
        // 1 MiB went to the video service.
        let tooBig = try await HTTPTestClient.streamChunked(
            gateway.address, "POST", path, headers: ["Content-Type": "video/mp4"], pieces: 24,
            piece: { UploadPattern.piece($0, size: 65_536) })
        #expect(tooBig.status == 413, "\(tooBig.text)")
        // The gateway answers after its abort: the 1 MiB received is gone at once.
        try await eventually("the worker's log line") { Self.aborted(video) == ["1048576"] }
        #expect(Self.partFiles(video).isEmpty)
        #expect(try Self.uploadRows(video) == 1, "only the accepted upload's row")

        // A client that hangs up after 640 KiB of 1 MiB.
        try await HTTPTestClient.sendPartly(
            gateway.address, "POST", path, headers: ["Content-Type": "video/mp4"], contentLength: 1 << 20,
            bytes: (0..<10).flatMap { UploadPattern.piece($0, size: 65_536) })
        try await eventually("the abandoned upload is aborted") { Self.aborted(video) == ["1048576", "655360"] }
        #expect(Self.partFiles(video).isEmpty)
        #expect(try Self.uploadRows(video) == 1)

        // An empty body: 400, and nothing stays either.
        let empty = try await HTTPTestClient.send(
            gateway.address, "POST", path, headers: ["Content-Type": "video/mp4"], body: [])
        #expect(empty.status == 400)
        #expect(Self.aborted(video) == ["1048576", "655360", "0"])
        #expect(try Self.uploadRows(video) == 1)
    }

    /// The sweep of a real worker, with ages of a few seconds: an upload its client
    /// abandoned (no gateway to abort it) expires with its part file; a blob stored
    /// by a finish that then failed (a wrong sha256) goes once old; the blobs of a
    /// processed video stay.
    @Test func theSweepRemovesIdleUploadsAndBlobsNoVideoNames() async throws {
        let broker = try await BrokerHarness(config: VideoStack.brokerConfig)
        let registry = try await RegistryUnderTest()
        let worker = try await VideoWorker.launch(
            broker: broker, registry: registry.endpoint,
            extra: [
                "--synthetic-work-ms", "10", "--sweep-interval-ms", "200", "--upload-expiry-ms", "1500",
                "--sweep-grace-ms", "2000", "--metrics", "127.0.0.1:0",
            ])
        let rpc = try RpcClient(endpoints: [worker.rpc], service: VideoProcessing.serviceName)
        defer { Task { await rpc.close() } }
        let blobs = BlobStore(dataFolder: worker.data.path)

        let kept = try await rpc.call(
            VideoAPI.upload,
            UploadRequest(ownerId: "u-1", title: "kept", data: Data("kept bytes".utf8).base64EncodedString()))
        try await eventually("the kept video is processed") {
            try await rpc.call(VideoAPI.get, GetVideoRequest(videoId: kept.videoId)).status == .processed
        }
        let processed = try await rpc.call(VideoAPI.get, GetVideoRequest(videoId: kept.videoId))

        let abandoned = try await rpc.call(VideoAPI.uploadBegin, UploadBeginRequest(ownerId: "u-1", title: "gone"))
        _ = try await rpc.call(
            VideoAPI.uploadChunk,
            UploadChunkRequest(uploadId: abandoned.uploadId, offset: 0, data: Data(count: 5000).base64EncodedString()))
        let wrong = try await rpc.call(VideoAPI.uploadBegin, UploadBeginRequest(ownerId: "u-1", title: "wrong"))
        _ = try await rpc.call(
            VideoAPI.uploadChunk,
            UploadChunkRequest(uploadId: wrong.uploadId, offset: 0, data: Data("orphan".utf8).base64EncodedString()))
        await #expect(throws: MetroClientError.self) {
            _ = try await rpc.call(
                VideoAPI.uploadFinish,
                UploadFinishRequest(uploadId: wrong.uploadId, sha256: String(repeating: "0", count: 64)))
        }
        let orphan = BlobHash.hex(Array("orphan".utf8))
        #expect(blobs.contains(orphan), "the failed finish stored the blob first")

        try await eventually("the idle uploads and the orphan blob are swept", timeout: .seconds(20)) {
            try Self.uploadRows(worker) == 0 && Self.partFiles(worker).isEmpty && !blobs.contains(orphan)
        }
        #expect(blobs.contains(processed.sourceBlobId))
        for id in [processed.thumbnailBlobId, processed.previewBlobId] { #expect(id.map(blobs.contains) == true) }
        #expect(await worker.process.stderrShows("storage sweep removed"))
        let metrics = try await httpGet(try #require(worker.ready["metrics"]), path: "/metrics")
        for series in [
            #"metro_video_sweep_removed_total{kind="upload"} 2"#, #"metro_video_sweep_removed_total{kind="blob"} 1"#,
            // 5,000 + 6 bytes of part files (the failed finish leaves its upload open), 6 of blob.
            "metro_video_sweep_removed_bytes_total 5012",
        ] {
            #expect(
                metrics.contains(series),
                "\(series) in \(metrics.split(separator: "\n").filter { $0.contains("sweep") })")
        }
    }
}
