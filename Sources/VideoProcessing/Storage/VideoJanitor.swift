import Foundation
public import GRDB
import Metrics
public import MetroRuntime

#if canImport(Glibc)
    import Glibc
#endif

/// The storage sweep of `<data>/video/`: removes what nothing will use again, so
/// that the folder does not grow with every upload that went wrong. The service
/// runs it as a housekeeping task (`ServiceDefinition.every`), at start and then
/// every `SweepPolicy.interval`.
///
/// What would stay for ever without it, and the rule for each (ages from the
/// file's modification time, or the upload row's `updated_at`):
/// - **uploads idle for longer than `uploadExpiry`** (24 h): the row and the part
///   file. A client that went away mid-upload leaves one (the gateway aborts the
///   uploads it sees fail, `video.upload.abort`, but a gateway killed mid-upload
///   cannot). A finished upload's row is kept as long, for a repeated finish.
/// - **part files older than `uploadExpiry` + `grace`**: a part file's mtime moves
///   with its row (each chunk is written, then recorded), so one that old has no
///   live upload; a chunk that raced an abort leaves one.
/// - **`blobs/tmp/` files older than `grace`** (1 h): blob writes a crash cut short.
/// - **`work/` job folders older than the job timeout + `grace`**: jobs of a
///   worker killed with kill -9 (a running job's folder is younger than its timeout).
/// - **blobs that no video names, older than `grace`**: stored by a call that then
///   failed (its commit refused by a full disk, a wrong `sha256`, a crash before
///   the commit, an abort after the finish copied the part file).
///
/// Removing a blob must never race a call that stores the same bytes and then
/// commits a video naming them. A blob goes only after three checks: (1) no video
/// names it and its file is older than `grace`; (2) moved to `blobs/trash/` by an
/// atomic rename, the moved file is still old; (3) still no video names it. A
/// call storing the bytes again always renames a fresh file into place
/// (`BlobStore`): before the move, (2) sees the fresh file and moves it back;
/// after the move, the fresh file is a new one that the sweep does not touch. A
/// video committed before (3) is seen by (3). A blob a video names is never
/// moved, except one stored within the sweep's own check (fresh: moved back at once).
///
/// One sweep at a time over a folder: instances sharing it take an exclusive
/// `flock` on `<data>/video/janitor.lock` and skip the round if another holds it.
/// A sweep killed halfway leaves files in `blobs/trash/`: the next one puts back
/// each that a video names and removes the rest.
public struct VideoJanitor: Sendable {
    /// The ages and the interval (`metro worker video --upload-expiry-ms …`).
    public struct Policy: Sendable, Equatable {
        public var interval: Duration = .seconds(600)
        public var uploadExpiry: Duration = .seconds(24 * 3600)
        public var grace: Duration = .seconds(3600)
        public init() {}
    }

    /// What one sweep removed.
    public struct Report: Sendable, Equatable, CustomStringConvertible {
        public var uploads = 0
        public var partFiles = 0
        public var tempFiles = 0
        public var workFolders = 0
        public var blobs = 0
        /// Blobs found in `blobs/trash/` from a sweep that did not finish and put back.
        public var restoredBlobs = 0
        public var bytes: Int64 = 0

        public init() {}

        public var isEmpty: Bool { self == Report() }

        /// Adds it to `metro_video_sweep_removed_total{kind}` and `metro_video_sweep_removed_bytes_total`.
        func record() {
            let counts = [
                ("upload", uploads), ("part-file", partFiles), ("temp-file", tempFiles), ("job-folder", workFolders),
                ("blob", blobs),
            ]
            for (kind, n) in counts where n > 0 {
                Counter(label: "metro_video_sweep_removed_total", dimensions: [("kind", kind)]).increment(by: n)
            }
            if bytes > 0 { Counter(label: "metro_video_sweep_removed_bytes_total").increment(by: bytes) }
        }

        public var description: String {
            let parts = [
                (uploads, "idle upload"), (partFiles, "stray part file"), (tempFiles, "unfinished blob write"),
                (workFolders, "job folder left by a crash"), (blobs, "blob no video names"),
                (restoredBlobs, "blob put back from the trash"),
            ].filter { $0.0 > 0 }.map { "\($0.0) \($0.1)\($0.0 == 1 ? "" : "s")" }
            let mib = (Double(bytes) / 1_048_576 * 10).rounded() / 10
            return parts.isEmpty ? "nothing" : parts.joined(separator: ", ") + " (\(mib) MiB)"
        }
    }

    public let blobs: BlobStore
    public let parts: UploadFiles
    public let workRoot: String
    public let policy: Policy
    /// The job timeout: a job folder younger than it plus `grace` may be a running job's.
    public let jobTimeout: Duration
    let clock: @Sendable () -> Int64

    public init(
        dataFolder: String, policy: Policy, jobTimeout: Duration,
        clock: @escaping @Sendable () -> Int64 = VideoService.systemClock
    ) {
        blobs = BlobStore(dataFolder: dataFolder)
        parts = UploadFiles(dataFolder: dataFolder)
        workRoot = FFmpegStep.workRoot(dataFolder: dataFolder)
        self.policy = policy
        self.jobTimeout = jobTimeout
        self.clock = clock
    }

    var lockPath: String {
        URL(fileURLWithPath: blobs.root).deletingLastPathComponent().appendingPathComponent("janitor.lock").path
    }
    var trash: String { "\(blobs.root)/trash" }

    /// One sweep; nil when another instance's sweep holds the folder.
    public func sweep(_ store: some SweepStore) async throws -> Report? {
        guard let lock = try await OffPool.run({ [lockPath] in try SweepLock(path: lockPath) }) else { return nil }
        defer { lock.release() }
        let now = clock()
        var report = Report()
        try await restoreTrash(store, &report)
        try await expireUploads(store, now: now, &report)
        let (partFiles, tempFiles, workFolders) = try await OffPool.run { [self] in
            (
                Self.removeOld(in: parts.folder, before: now - (policy.uploadExpiry + policy.grace).inMs),
                Self.removeOld(in: "\(blobs.root)/tmp", before: now - policy.grace.inMs),
                Self.removeOld(in: workRoot, before: now - (jobTimeout + policy.grace).inMs)
            )
        }
        report.partFiles = partFiles.count
        report.tempFiles = tempFiles.count
        report.workFolders = workFolders.count
        report.bytes += partFiles.bytes + tempFiles.bytes + workFolders.bytes
        try await removeUnnamedBlobs(store, now: now, &report)
        report.record()
        return report
    }

    // MARK: - Uploads

    private func expireUploads(_ store: some SweepStore, now: Int64, _ report: inout Report) async throws {
        let cutoff = now - policy.uploadExpiry.inMs
        while true {
            let idle = try await store.read { try UploadStore.idle(before: cutoff, limit: 500, in: $0) }
            for id in idle {
                guard try await store.writeRows({ try UploadStore.removeIdle(id: id, before: cutoff, in: $0) }) else {
                    continue
                }
                report.uploads += 1
                report.bytes += try await OffPool.run { [parts] in parts.remove(id) }
            }
            if idle.count < 500 { return }
        }
    }

    // MARK: - Blobs

    /// Steps (1)–(3) of the type's documentation, for every blob file.
    private func removeUnnamedBlobs(_ store: some SweepStore, now: Int64, _ report: inout Report) async throws {
        let cutoff = now - policy.grace.inMs
        let old = try await OffPool.run { [blobs] in Self.oldBlobs(root: blobs.root, before: cutoff) }
        for batch in stride(from: 0, to: old.count, by: 500).map({ old[$0..<min($0 + 500, old.count)] }) {
            let unnamed = try await store.read { db in try batch.filter { try !VideoStore.usesBlob($0, in: db) } }
            for id in unnamed {
                guard let moved = try await OffPool.run({ [self] in moveToTrash(id, before: cutoff) }) else {
                    continue
                }
                if try await store.read({ try VideoStore.usesBlob(id, in: $0) }) {
                    try await OffPool.run { [self] in putBack(id) }
                    continue
                }
                try await OffPool.run { [self] in _ = unlink("\(trash)/\(id)") }
                report.blobs += 1
                report.bytes += moved
            }
        }
    }

    /// The ids of the blob files older than `cutoff` (ms since the epoch).
    static func oldBlobs(root: String, before cutoff: Int64) -> [String] {
        let shards = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        var old: [String] = []
        for shard in shards where shard.utf8.count == 2 {
            for id in (try? FileManager.default.contentsOfDirectory(atPath: "\(root)/\(shard)")) ?? []
            where BlobStore.isID(id) {
                if let age = modified("\(root)/\(shard)/\(id)"), age.ms < cutoff { old.append(id) }
            }
        }
        return old
    }

    /// Step (2): moves blob `id` to the trash and returns its size, or puts it back
    /// (and returns nil) when the moved file is younger than `cutoff`.
    private func moveToTrash(_ id: String, before cutoff: Int64) -> Int64? {
        try? FileManager.default.createDirectory(atPath: trash, withIntermediateDirectories: true)
        guard rename(blobs.path(of: id), "\(trash)/\(id)") == 0 else { return nil }
        guard let moved = Self.modified("\(trash)/\(id)"), moved.ms < cutoff else {
            putBack(id)
            return nil
        }
        return moved.size
    }

    /// Back from the trash to its place (over a copy stored meanwhile: the same bytes).
    private func putBack(_ id: String) {
        _ = rename("\(trash)/\(id)", blobs.path(of: id))
    }

    /// What a sweep killed halfway left in the trash: back if a video names it, else removed.
    private func restoreTrash(_ store: some SweepStore, _ report: inout Report) async throws {
        let left = try await OffPool.run { [trash] in
            ((try? FileManager.default.contentsOfDirectory(atPath: trash)) ?? []).filter(BlobStore.isID)
        }
        guard !left.isEmpty else { return }
        let named = try await store.read { db in try Set(left.filter { try VideoStore.usesBlob($0, in: db) }) }
        for id in left {
            try await OffPool.run { [self] in
                if named.contains(id) {
                    putBack(id)
                } else {
                    unlink("\(trash)/\(id)")
                }
            }
            if named.contains(id) { report.restoredBlobs += 1 } else { report.blobs += 1 }
        }
    }

    // MARK: - Files

    /// Removes each entry of `folder` (a file, or a folder with what it holds) last
    /// modified before `cutoff`; returns how many, and their bytes.
    static func removeOld(in folder: String, before cutoff: Int64) -> (count: Int, bytes: Int64) {
        var count = 0
        var bytes: Int64 = 0
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] {
            let path = "\(folder)/\(name)"
            guard let entry = modified(path), entry.ms < cutoff else { continue }
            let size = entry.isFolder ? folderBytes(path) : entry.size
            if (try? FileManager.default.removeItem(atPath: path)) != nil {
                count += 1
                bytes += size
            }
        }
        return (count, bytes)
    }

    /// `lstat`: the modification time (ms since the epoch), the size, and whether it is a folder.
    static func modified(_ path: String) -> (ms: Int64, size: Int64, isFolder: Bool)? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        let ms = Int64(info.st_mtim.tv_sec) * 1000 + Int64(info.st_mtim.tv_nsec) / 1_000_000
        return (ms, Int64(info.st_size), (info.st_mode & S_IFMT) == S_IFDIR)
    }

    private static func folderBytes(_ path: String) -> Int64 {
        let names = FileManager.default.enumerator(atPath: path)?.compactMap { $0 as? String } ?? []
        return names.reduce(0) { $0 + (modified("\(path)/\($1)").map { $0.isFolder ? 0 : $0.size } ?? 0) }
    }
}

/// The database side of a sweep: the service's store (`ServiceStore`), or a plain
/// GRDB queue in unit tests.
public protocol SweepStore: Sendable {
    func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T
    /// One write transaction.
    func writeRows<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T
}

extension ServiceStore: SweepStore {
    public func writeRows<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await write { try body($0.db) }
    }
}

/// An exclusive, non-blocking `flock` on a file; nil from `init` when another
/// process holds it.
private final class SweepLock: Sendable {
    let fd: Int32

    init?(path: String) throws {
        try FileManager.default.createDirectory(
            atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path, withIntermediateDirectories: true)
        let fd = Glibc.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw BlobError.failed("open \(path)") }
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            if errno == EINTR { continue }
            let busy = errno == EWOULDBLOCK
            Glibc.close(fd)
            if busy { return nil }
            throw BlobError.failed("flock \(path)")
        }
        self.fd = fd
    }

    func release() {
        flock(fd, LOCK_UN)
        Glibc.close(fd)
    }
}

extension Duration {
    /// Whole milliseconds.
    fileprivate var inMs: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }
}
