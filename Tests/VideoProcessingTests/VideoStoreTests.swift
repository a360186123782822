import GRDB
import Testing
import VideoProcessing

@Suite struct VideoStoreTests {
    static func video(_ id: String, owner: String = "u-1", at ms: Int64 = 1_000) -> Video {
        Video(
            videoId: id, ownerId: owner, title: "Clip \(id)", tags: ["jazz"], status: .uploaded,
            contentType: "video/mp4", sizeBytes: 10, sourceBlobId: String(repeating: "a", count: 64), uploadedAtMs: ms,
            updatedAtMs: ms)
    }

    static let outputs = MediaOutputs(
        media: MediaInfo(
            durationSeconds: 2, width: 320, height: 240, videoCodec: "h264", audioCodec: "aac", bitRate: 1000,
            frameRate: 25),
        thumbnailBlobId: String(repeating: "b", count: 64), previewBlobId: String(repeating: "c", count: 64),
        synthetic: false)

    @Test func statusesMoveForwardOnly() {
        #expect(VideoStatus.uploaded.allows(.processing))
        #expect(VideoStatus.processing.allows(.processing))  // a rerun after a crash
        #expect(VideoStatus.processing.allows(.processed) && VideoStatus.processing.allows(.failed))
        for final in [VideoStatus.processed, .failed] {
            #expect(final.isFinal)
            #expect(VideoStatus.allCases.allSatisfy { !final.allows($0) })
        }
        #expect(!VideoStatus.processing.allows(.uploaded))
    }

    @Test func aVideoGoesThroughProcessingToProcessedOnce() throws {
        let folder = try TestFolder()
        let db = try folder.database()
        try db.write { try VideoStore.insert(Self.video("v-1"), in: $0) }
        let processing = try db.write { try VideoStore.markProcessing(id: "v-1", nowMs: 2_000, in: $0) }
        #expect(processing.status == .processing && processing.updatedAtMs == 2_000)
        let done = try db.write { try VideoStore.markProcessed(id: "v-1", outputs: Self.outputs, nowMs: 3_000, in: $0) }
        #expect(done?.status == .processed && done?.media == Self.outputs.media)
        #expect(try db.read { try VideoStore.get(id: "v-1", in: $0) } == done)
        // Final: no second outcome, and processing does not reopen it.
        #expect(try db.write { try VideoStore.markFailed(id: "v-1", reason: "late", nowMs: 4_000, in: $0) } == nil)
        #expect(try db.write { try VideoStore.markProcessing(id: "v-1", nowMs: 5_000, in: $0) }.status == .processed)
    }

    @Test func aFailedVideoKeepsItsReason() throws {
        let folder = try TestFolder()
        let db = try folder.database()
        try db.write { try VideoStore.insert(Self.video("v-1"), in: $0) }
        let failed = try db.write { try VideoStore.markFailed(id: "v-1", reason: "no video stream", nowMs: 9, in: $0) }
        #expect(failed?.status == .failed && failed?.failureReason == "no video stream")
        #expect(try db.read { try VideoStore.get(id: "v-1", in: $0) }.failureReason == "no video stream")
    }

    @Test func anUnknownVideoIsNotFound() throws {
        let db = try TestFolder().database()
        #expect(videoError { _ = try db.read { try VideoStore.get(id: "nope", in: $0) } }?.kind == .notFound)
    }

    @Test func listPagesNewestFirstWithFilters() throws {
        let folder = try TestFolder()
        let db = try folder.database()
        try db.write { db in
            for i in 1...5 { try VideoStore.insert(Self.video("v-\(i)", owner: i % 2 == 0 ? "even" : "odd"), in: db) }
            _ = try VideoStore.markFailed(id: "v-3", reason: "x", nowMs: 1, in: db)
        }
        let first = try db.read { try VideoStore.list(ListVideosRequest(limit: 2), in: $0) }
        #expect(first.videos.map(\.videoId) == ["v-5", "v-4"])
        let second = try db.read { try VideoStore.list(ListVideosRequest(limit: 2, after: first.next), in: $0) }
        #expect(second.videos.map(\.videoId) == ["v-3", "v-2"])
        let last = try db.read { try VideoStore.list(ListVideosRequest(limit: 2, after: second.next), in: $0) }
        #expect(last.videos.map(\.videoId) == ["v-1"] && last.next == nil)
        let odd = try db.read { try VideoStore.list(ListVideosRequest(ownerId: "odd", status: .uploaded), in: $0) }
        #expect(odd.videos.map(\.videoId) == ["v-5", "v-1"])
        #expect(
            videoError { _ = try db.read { try VideoStore.list(ListVideosRequest(limit: 0), in: $0) } }?.kind
                == .invalid)
        #expect(
            videoError { _ = try db.read { try VideoStore.list(ListVideosRequest(after: "-1"), in: $0) } }?.kind
                == .invalid)
    }

    @Test func uploadFieldsAreCheckedAndNormalised() throws {
        let fields = try VideoRules.upload(
            ownerId: "u-1", title: "  My clip ", tags: ["Jazz", "jazz", "live"], contentType: nil)
        #expect(fields.title == "My clip" && fields.tags == ["jazz", "live"])
        #expect(fields.contentType == VideoRules.defaultContentType)
        #expect(videoError { _ = try VideoRules.title("  ") }?.message.hasPrefix("title") == true)
        #expect(videoError { _ = try VideoRules.id("a b", field: "ownerId") }?.message.hasPrefix("ownerId") == true)
        #expect(videoError { _ = try VideoRules.contentType("video") }?.kind == .invalid)
        #expect(videoError { _ = try VideoRules.tags(["no spaces"]) }?.kind == .invalid)
    }
}
