import Foundation
import GRDB
import Testing
import VideoProcessing

@Suite struct UploadStoreTests {
    static func begun(_ db: TestDatabase, size: Int64? = nil) throws -> UploadStore.Upload {
        try db.write {
            try UploadStore.begin(
                UploadBeginRequest(ownerId: "u-1", title: "t", sizeBytes: size), uploadId: "up-1", nowMs: 1, in: $0)
        }
    }

    @Test func chunksAppendInOrderAndARepeatIsVerifiedNotWritten() throws {
        let db = try TestFolder().database()
        var upload = try Self.begun(db)
        #expect(try UploadStore.plan(upload, offset: 0, length: 10, maxChunkBytes: 100) == .append)
        #expect(try db.write { try UploadStore.advance(id: "up-1", from: 0, to: 10, nowMs: 2, in: $0) })
        upload = try db.read { try UploadStore.get(id: "up-1", in: $0) }
        #expect(upload.receivedBytes == 10)
        #expect(try UploadStore.plan(upload, offset: 0, length: 10, maxChunkBytes: 100) == .verify)
        #expect(try UploadStore.plan(upload, offset: 10, length: 5, maxChunkBytes: 100) == .append)
        // A gap, a partial overlap, an empty or oversized chunk: refused.
        #expect(
            videoError { _ = try UploadStore.plan(upload, offset: 12, length: 5, maxChunkBytes: 100) }?.kind
                == .conflict)
        #expect(
            videoError { _ = try UploadStore.plan(upload, offset: 5, length: 10, maxChunkBytes: 100) }?.kind
                == .conflict)
        #expect(
            videoError { _ = try UploadStore.plan(upload, offset: 10, length: 0, maxChunkBytes: 100) }?.kind == .invalid
        )
        #expect(
            videoError { _ = try UploadStore.plan(upload, offset: 10, length: 101, maxChunkBytes: 100) }?.kind
                == .invalid)
        // Advancing from a stale position changes nothing (another instance moved it).
        #expect(try !db.write { try UploadStore.advance(id: "up-1", from: 0, to: 10, nowMs: 2, in: $0) })
    }

    @Test func theAnnouncedSizeBoundsTheChunksAndAFinishedUploadTakesNoMore() throws {
        let db = try TestFolder().database()
        let upload = try Self.begun(db, size: 8)
        #expect(
            videoError { _ = try UploadStore.plan(upload, offset: 0, length: 9, maxChunkBytes: 100) }?.kind == .invalid)
        try db.write { try UploadStore.finish(id: "up-1", videoId: "v-1", nowMs: 3, in: $0) }
        let finished = try db.read { try UploadStore.get(id: "up-1", in: $0) }
        #expect(finished.videoId == "v-1")
        #expect(
            videoError { _ = try UploadStore.plan(finished, offset: 0, length: 1, maxChunkBytes: 100) }?.kind
                == .conflict)
    }

    @Test func partFilesTakeBytesAtOffsetsAndReadThemBack() throws {
        let folder = try TestFolder()
        let files = UploadFiles(dataFolder: folder.path)
        try files.write(Array("hello ".utf8), at: 0, to: "up-1")
        try files.write(Array("world".utf8), at: 6, to: "up-1")
        #expect(try files.read("up-1", at: 0, count: 11) == Array("hello world".utf8))
        #expect(try files.read("up-1", at: 6, count: 5) == Array("world".utf8))
        // An id that is not one of ours cannot name a path outside the folder.
        #expect(files.path(of: "../../x").hasPrefix("\(files.folder)/") && !files.path(of: "../../x").contains(".."))
        files.remove("up-1")
        #expect(!FileManager.default.fileExists(atPath: files.path(of: "up-1")))
    }
}
