import Foundation
import GRDB
import MetroKit
import MetroProtocol
import MetroTestKit
import Testing
import VideoProcessing

#if canImport(Glibc)
    import Glibc
#endif

/// The video service's upload files on a full disk: the `MetroFaultInject` library,
/// preloaded into the worker, makes writes to `.part` files (a chunked upload's
/// bytes) fall short, then fail with ENOSPC. The chunk is answered 205 storage-failure with the
/// reason, not 107 or a bad request, and the same chunk succeeds once space is free.
@Suite(.serialized) struct VideoDiskFullTests {
    @Test func aChunkRefusedByAFullDiskIsAnswered205AndGoesThroughAfter() async throws {
        let disk = try FaultInjection(pathFilter: ".part")
        let s = try await VideoStack(environment: try disk.environment)
        try await closing(s.rpc) {
            let bytes = (0..<20_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
            let begun = try await s.rpc.call(
                VideoAPI.uploadBegin,
                UploadBeginRequest(ownerId: "u-1", title: "Full disk", sizeBytes: Int64(bytes.count)))
            let first = UploadChunkRequest(
                uploadId: begun.uploadId, offset: 0, data: Data(bytes[0..<10_000]).base64EncodedString())

            disk.fillDisk(true)
            let refused = await ProfilesDiskFullTests.error { try await s.rpc.call(VideoAPI.uploadChunk, first) }
            #expect(refused?.wireError?.code == .storageFailure, "\(String(describing: refused))")
            #expect(refused?.wireError?.message.contains("disk is full") == true)
            #expect(await s.workers[0].process.stderrShows("faultinject: pwrite ENOSPC"))

            disk.fillDisk(false)
            #expect(try await s.rpc.call(VideoAPI.uploadChunk, first).receivedBytes == 10_000)
            let second = UploadChunkRequest(
                uploadId: begun.uploadId, offset: 10_000, data: Data(bytes[10_000...]).base64EncodedString())
            #expect(try await s.rpc.call(VideoAPI.uploadChunk, second).receivedBytes == 20_000)
            let video = try await s.rpc.call(
                VideoAPI.uploadFinish, UploadFinishRequest(uploadId: begun.uploadId, sha256: nil))
            #expect(video.sizeBytes == 20_000)
            #expect(try s.blobs.read(video.sourceBlobId) == bytes, "the stored bytes are whole")
        }
        await s.close()
    }

    /// The broker ACKs an upload's `video.uploaded` while the worker's disk is full:
    /// the relay cannot mark its row sent, yet the upload's caller is answered
    /// (the event is in the journal), not 407 at its deadline; the row goes again
    /// once the disk is back, and the journal keeps one copy (dedupe window).
    @Test func anUploadWhoseEventTheBrokerTookIsAnsweredThoughItsRowCannotBeMarked() async throws {
        let disk = try FaultInjection(pathFilter: "video.sqlite")
        let s = try await VideoStack(environment: try disk.environment)
        try await closing(s.rpc) {
            let worker = s.workers[0]
            // Every thread stopped before the upload: a SIGSTOP alone returns while a
            // broker thread on the other core may still ACK for a moment (a full-suite
            // run saw this upload ACKed and answered, not 407).
            try await s.broker.process.freeze()
            let upload = Task {
                try await s.rpc.call(
                    VideoAPI.upload,
                    UploadRequest(ownerId: "u-1", title: "Held", data: Data([1, 2, 3]).base64EncodedString()),
                    deadline: .seconds(60))
            }
            // The row and its outbox row committed; the relay's publish waits for the broker.
            try await eventually("the upload committed") {
                try worker.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM videos") } == 1
            }
            disk.fillDisk(true)
            s.broker.process.thaw()
            let video = try await upload.value
            #expect(video.status == .uploaded)
            try await eventually("the relay failed to mark the row") {
                worker.process.stderrText.contains("outbox relay: pass failed")
            }
            #expect(try worker.unsentOutbox() == 1)

            disk.fillDisk(false)
            try await eventually("the row marked sent on a later pass") { try worker.unsentOutbox() == 0 }
            #expect(try await s.journaledVideoIDs("video.uploaded") == [video.videoId], "journaled once")
        }
        await s.close()
    }
}
