import Foundation
import GRDB
import Testing
import VideoProcessing

#if canImport(Glibc)
    import Glibc
#endif

/// The storage sweep's rules, on real files and a real SQLite database; ages are
/// made by setting files' modification times and rows' `updated_at` in the past.
@Suite struct VideoJanitorTests {
    static let hour: Int64 = 3_600_000
    static let now = VideoService.systemClock()

    /// A sweep with the default policy (24 h expiry, 1 h grace) and a 2-minute job timeout.
    static func janitor(_ folder: TestFolder) -> VideoJanitor {
        VideoJanitor(dataFolder: folder.path, policy: .init(), jobTimeout: .seconds(120), clock: { now })
    }

    /// Sets `path`'s modification time to `ms` (since the epoch).
    static func age(_ path: String, to ms: Int64) {
        var times = [
            timespec(tv_sec: Int(ms / 1000), tv_nsec: Int(ms % 1000) * 1_000_000),
            timespec(tv_sec: Int(ms / 1000), tv_nsec: Int(ms % 1000) * 1_000_000),
        ]
        #expect(utimensat(AT_FDCWD, path, &times, 0) == 0)
    }

    static func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    static func video(_ id: String, source: String) -> Video {
        Video(
            videoId: id, ownerId: "u-1", title: "t", tags: [], status: .uploaded, contentType: "video/mp4",
            sizeBytes: 1, sourceBlobId: source, uploadedAtMs: 1, updatedAtMs: 1)
    }

    @Test func idleUploadsGoWithTheirPartFilesAndActiveOnesStay() async throws {
        let folder = try TestFolder()
        let db = try folder.database()
        let parts = UploadFiles(dataFolder: folder.path)
        for (id, at) in [("up-old", Self.now - 25 * Self.hour), ("up-new", Self.now - Self.hour)] {
            try db.write {
                _ = try UploadStore.begin(
                    UploadBeginRequest(ownerId: "u-1", title: "t"), uploadId: id, nowMs: at, in: $0)
            }
            try parts.write(Array(repeating: 7, count: 1000), at: 0, to: id)
        }
        // Begun long ago, but it took a chunk an hour ago: active.
        try db.write {
            _ = try UploadStore.begin(
                UploadBeginRequest(ownerId: "u-1", title: "t"), uploadId: "up-moving", nowMs: Self.now - 30 * Self.hour,
                in: $0)
            #expect(try UploadStore.advance(id: "up-moving", from: 0, to: 5, nowMs: Self.now - Self.hour, in: $0))
            // Finished two days ago: its row has served its repeated finishes.
            _ = try UploadStore.begin(
                UploadBeginRequest(ownerId: "u-1", title: "t"), uploadId: "up-done", nowMs: Self.now - 50 * Self.hour,
                in: $0)
            try UploadStore.finish(id: "up-done", videoId: "v-1", nowMs: Self.now - 48 * Self.hour, in: $0)
        }
        let report = try #require(try await Self.janitor(folder).sweep(db.sweepStore))
        #expect(report.uploads == 2)
        #expect(report.bytes == 1000)
        let left = try db.read { try String.fetchAll($0, sql: "SELECT upload_id FROM uploads ORDER BY upload_id") }
        #expect(left == ["up-moving", "up-new"])
        #expect(!Self.exists(parts.path(of: "up-old")) && Self.exists(parts.path(of: "up-new")))
        // A second sweep finds nothing.
        #expect(try await Self.janitor(folder).sweep(db.sweepStore)?.isEmpty == true)
    }

    @Test func filesLeftByCrashesGoOnceOldEnough() async throws {
        let folder = try TestFolder()
        let db = try folder.database()
        let video = "\(folder.path)/video"
        for sub in ["uploads", "blobs/tmp", "work/job-old", "work/job-new"] {
            try FileManager.default.createDirectory(atPath: "\(video)/\(sub)", withIntermediateDirectories: true)
        }
        let files = [
            ("uploads/stray.part", Self.now - 26 * Self.hour, false),  // past 24 h + 1 h: gone
            ("uploads/recent.part", Self.now - 24 * Self.hour, true),  // within expiry + grace
            ("blobs/tmp/cut-short", Self.now - 2 * Self.hour, false),
            ("blobs/tmp/writing", Self.now - 10 * 60_000, true),
            ("work/job-old/preview.mp4", Self.now - 3 * Self.hour, false),
            ("work/job-new/preview.mp4", Self.now - 3 * Self.hour, true),
        ]
        for (name, at, _) in files {
            #expect(
                FileManager.default.createFile(atPath: "\(video)/\(name)", contents: Data(repeating: 1, count: 100)))
            Self.age("\(video)/\(name)", to: at)
        }
        // A job folder's own time decides: the old job's folder is 3 h old (timeout
        // 2 min + grace 1 h); the new one's is 30 min, whatever its files say.
        Self.age("\(video)/work/job-old", to: Self.now - 3 * Self.hour)
        Self.age("\(video)/work/job-new", to: Self.now - 30 * 60_000)
        let report = try #require(try await Self.janitor(folder).sweep(db.sweepStore))
        #expect(report.partFiles == 1 && report.tempFiles == 1 && report.workFolders == 1)
        #expect(report.bytes == 300)
        for (name, _, kept) in files { #expect(Self.exists("\(video)/\(name)") == kept, "\(name)") }
        #expect(!Self.exists("\(video)/work/job-old"))
    }

    @Test func onlyOldBlobsThatNoVideoNamesGo() async throws {
        let folder = try TestFolder()
        let db = try folder.database()
        let blobs = folder.blobs
        let named = try blobs.put(Array("named".utf8))
        let thumbnail = try blobs.put(Array("thumbnail".utf8))
        let orphan = try blobs.put(Array("orphan".utf8))
        let young = try blobs.put(Array("young orphan".utf8))
        try db.write {
            try VideoStore.insert(Self.video("v-1", source: named), in: $0)
            try VideoStore.insert(Self.video("v-2", source: named), in: $0)
            _ = try VideoStore.markProcessing(id: "v-2", nowMs: 2, in: $0)
            let outputs = MediaOutputs(
                media: MediaInfo(
                    durationSeconds: 1, width: 2, height: 2, videoCodec: "h264", audioCodec: nil, bitRate: 1,
                    frameRate: 1), thumbnailBlobId: thumbnail, previewBlobId: named, synthetic: false)
            _ = try VideoStore.markProcessed(id: "v-2", outputs: outputs, nowMs: 3, in: $0)
        }
        for id in [named, thumbnail, orphan] { Self.age(blobs.path(of: id), to: Self.now - 2 * Self.hour) }
        let report = try #require(try await Self.janitor(folder).sweep(db.sweepStore))
        #expect(report.blobs == 1 && report.bytes == Int64("orphan".utf8.count))
        #expect(!blobs.contains(orphan))
        #expect(blobs.contains(named) && blobs.contains(thumbnail) && blobs.contains(young))
        #expect(folder.files(under: "video/blobs/trash").isEmpty)
    }

    /// The bytes of an old orphan stored again (a new upload of the same video)
    /// get a fresh file: the sweep keeps it, so the video about to name it finds it.
    @Test func aBlobStoredAgainIsYoungAgainAndStays() async throws {
        let folder = try TestFolder()
        let db = try folder.database()
        let blobs = folder.blobs
        let id = try blobs.put(Array("same bytes".utf8))
        Self.age(blobs.path(of: id), to: Self.now - 5 * Self.hour)
        #expect(try blobs.put(Array("same bytes".utf8)) == id)
        let report = try #require(try await Self.janitor(folder).sweep(db.sweepStore))
        #expect(report.isEmpty)
        #expect(try blobs.read(id) == Array("same bytes".utf8))
    }

    @Test func aSweepCutShortIsFinishedByTheNext() async throws {
        let folder = try TestFolder()
        let db = try folder.database()
        let blobs = folder.blobs
        let named = try blobs.put(Array("named".utf8))
        let orphan = try blobs.put(Array("orphan".utf8))
        try db.write { try VideoStore.insert(Self.video("v-1", source: named), in: $0) }
        // What a sweep killed between its move and its last check leaves.
        let trash = "\(blobs.root)/trash"
        try FileManager.default.createDirectory(atPath: trash, withIntermediateDirectories: true)
        for id in [named, orphan] { #expect(rename(blobs.path(of: id), "\(trash)/\(id)") == 0) }
        let report = try #require(try await Self.janitor(folder).sweep(db.sweepStore))
        #expect(report.restoredBlobs == 1 && report.blobs == 1)
        #expect(try blobs.read(named) == Array("named".utf8))
        #expect(!blobs.contains(orphan))
        #expect(folder.files(under: "video/blobs/trash").isEmpty)
    }

    @Test func oneSweepAtATimeOverAFolder() async throws {
        let folder = try TestFolder()
        let db = try folder.database()
        let janitor = Self.janitor(folder)
        try FileManager.default.createDirectory(atPath: "\(folder.path)/video", withIntermediateDirectories: true)
        let fd = open("\(folder.path)/video/janitor.lock", O_RDWR | O_CREAT, 0o644)
        #expect(fd >= 0 && flock(fd, LOCK_EX) == 0)
        #expect(try await janitor.sweep(db.sweepStore) == nil)
        close(fd)
        #expect(try await janitor.sweep(db.sweepStore) != nil)
    }

    @Test func theReportReadsAsASentence() {
        var report = VideoJanitor.Report()
        #expect(report.description == "nothing")
        report.uploads = 2
        report.blobs = 1
        report.bytes = 3 * 1_048_576 / 2
        #expect(report.description == "2 idle uploads, 1 blob no video names (1.5 MiB)")
    }
}

/// A GRDB queue as the sweep's database.
struct QueueSweepStore: SweepStore {
    let queue: DatabaseQueue

    func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await queue.read(body)
    }

    func writeRows<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await queue.write(body)
    }
}

extension TestDatabase {
    var sweepStore: QueueSweepStore { QueueSweepStore(queue: queue) }
}
