import Foundation
import GRDB
import VideoProcessing

/// A fresh temporary folder, removed on deinit, and a migrated video database in it.
final class TestFolder: @unchecked Sendable {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("video-test-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    var blobs: BlobStore { BlobStore(dataFolder: path) }

    /// Files under `folder` (relative), recursively.
    func files(under folder: String) -> [String] {
        let root = "\(path)/\(folder)"
        let all = FileManager.default.enumerator(atPath: root)?.allObjects as? [String] ?? []
        return all.filter { !isDirectory("\(root)/\($0)") }.sorted()
    }

    private func isDirectory(_ p: String) -> Bool {
        var dir: ObjCBool = false
        return FileManager.default.fileExists(atPath: p, isDirectory: &dir) && dir.boolValue
    }

    /// A migrated `video.sqlite` in this folder; it keeps the folder alive.
    func database() throws -> TestDatabase { try TestDatabase(self) }

    /// A 2-second 320x240 25 fps H.264 + AAC clip made by ffmpeg's lavfi sources.
    func clip(named name: String = "clip.mp4") async throws -> String {
        let out = "\(path)/\(name)"
        let result = try await CommandRunner.run(
            "ffmpeg",
            [
                "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=duration=2:size=320x240:rate=25", "-f",
                "lavfi", "-i", "sine=duration=2", "-c:v", "libx264", "-c:a", "aac", "-pix_fmt", "yuv420p", out,
            ], workFolder: path, deadline: .now + .seconds(60))
        guard result.status == 0 else { throw ClipError(stderr: result.stderr) }
        return out
    }
}

/// A migrated database that holds its folder (ARC may end a local's life at
/// its last use: a test that kept only the queue lost its folder mid-test).
final class TestDatabase {
    let folder: TestFolder
    let queue: DatabaseQueue

    init(_ folder: TestFolder) throws {
        self.folder = folder
        queue = try DatabaseQueue(path: "\(folder.path)/video.sqlite")
        var migrator = DatabaseMigrator()
        VideoSchema.register(in: &migrator)
        try migrator.migrate(queue)
    }

    func read<T>(_ body: (Database) throws -> T) throws -> T { try queue.read(body) }
    func write<T>(_ body: (Database) throws -> T) throws -> T { try queue.write(body) }
}

/// ffmpeg could not make a test clip (its stderr).
struct ClipError: Error {
    let stderr: String
}

/// The `VideoError` a throwing body threw, or nil.
func videoError(_ body: () throws -> Void) -> VideoError? {
    do {
        try body()
        return nil
    } catch let error as VideoError {
        return error
    } catch {
        return nil
    }
}
