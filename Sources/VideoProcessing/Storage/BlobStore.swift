public import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The content-addressed blob store, `<data>/video/blobs/`: a blob's id is the
/// lowercase hex SHA-256 of its bytes, and it lives at `<id[0..<2]>/<id>`. A
/// write goes to `tmp/<random>`, is fsynced, renamed into place, and the
/// directory is fsynced: a crash leaves either no blob or the whole blob, never
/// a torn one under its id. An id never changes meaning, so writing a blob that
/// exists replaces it with the same bytes, and instances sharing the folder may
/// write the same blob at once. The rename happens even then, so that a blob
/// just stored always has a fresh modification time: the storage sweep
/// (`VideoJanitor`) removes only blobs that no video names and that are old, and a
/// call that stores a blob and then commits the video naming it is thereby never
/// left with a blob the sweep took in between.
///
/// Threading: every method does blocking file I/O; call them off the
/// cooperative pool (`OffPool.run`). The type itself is a value with no state.
public struct BlobStore: Sendable {
    /// `<data>/video/blobs`.
    public let root: String

    public init(dataFolder: String) {
        root =
            URL(fileURLWithPath: dataFolder).appendingPathComponent(VideoProcessing.serviceName)
            .appendingPathComponent("blobs").path
    }

    public init(root: String) { self.root = root }

    /// Where blob `id` is (whether or not it exists).
    public func path(of id: String) -> String { "\(root)/\(id.prefix(2))/\(id)" }

    public func contains(_ id: String) -> Bool { FileManager.default.fileExists(atPath: path(of: id)) }

    /// The bytes of blob `id`.
    public func read(_ id: String) throws -> [UInt8] {
        guard Self.isID(id) else { throw BlobError("not a blob id: \(id)") }
        return [UInt8](try Data(contentsOf: URL(fileURLWithPath: path(of: id))))
    }

    /// Stores `bytes`; returns its id.
    @discardableResult
    public func put(_ bytes: [UInt8]) throws -> String {
        let temp = try temporaryFile()
        do {
            try Self.writeAll(temp.fd, bytes)
        } catch {
            temp.discard()
            throw error
        }
        return try commit(temp, id: BlobHash.hex(bytes))
    }

    /// Stores a copy of the file at `source` (its first `limit` bytes, if given),
    /// hashing while copying (one pass, a bounded buffer); returns its id and size.
    public func put(copying source: String, limit: Int64? = nil) throws -> (id: String, size: Int64) {
        let input = Glibc.open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw BlobError("cannot open \(source): \(String(cString: strerror(errno)))") }
        defer { Glibc.close(input) }
        let temp = try temporaryFile()
        let id: String
        let size: Int64
        do {
            var hash = BlobHash()
            var total: Int64 = 0
            var buffer = [UInt8](repeating: 0, count: 256 * 1024)
            while true {
                let want = limit.map { Int(min(Int64(buffer.count), $0 - total)) } ?? buffer.count
                if want == 0 { break }
                let n = buffer.withUnsafeMutableBytes { Glibc.read(input, $0.baseAddress, want) }
                if n < 0 && errno == EINTR { continue }
                guard n >= 0 else { throw BlobError("cannot read \(source): \(String(cString: strerror(errno)))") }
                if n == 0 { break }
                let chunk = buffer[0..<n]
                hash.update(chunk)
                try Self.writeAll(temp.fd, Array(chunk))
                total += Int64(n)
            }
            id = hash.finalizeHex()
            size = total
        } catch {
            temp.discard()
            throw error
        }
        return (try commit(temp, id: id), size)
    }

    /// The SHA-256 of the file at `path` (an upload's part file, checked before it is stored).
    public static func hash(file path: String) throws -> (id: String, size: Int64) {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw BlobError("cannot open \(path)") }
        defer { try? handle.close() }
        var hash = BlobHash()
        var size: Int64 = 0
        while let data = try handle.read(upToCount: 256 * 1024), !data.isEmpty {
            hash.update(data)
            size += Int64(data.count)
        }
        return (hash.finalizeHex(), size)
    }

    /// 64 lowercase hex digits.
    public static func isID(_ s: String) -> Bool {
        s.utf8.count == 64 && s.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    // MARK: - Writing

    private struct Temporary {
        var fd: Int32
        var path: String

        /// Closes and removes it (a write that failed before `commit`).
        func discard() {
            Glibc.close(fd)
            unlink(path)
        }
    }

    private func temporaryFile() throws -> Temporary {
        let folder = "\(root)/tmp"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let path = "\(folder)/\(UUID().uuidString.lowercased())"
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw BlobError.failed("cannot create \(path)") }
        return Temporary(fd: fd, path: path)
    }

    /// fsync, close, rename into place (or drop when the blob exists), fsync the
    /// directory. Owns `temp` from here: closes it once, and removes it on failure.
    private func commit(_ temp: Temporary, id: String) throws -> String {
        guard fsync(temp.fd) == 0 else {
            let error = BlobError.failed("fsync \(temp.path)")
            temp.discard()
            throw error
        }
        Glibc.close(temp.fd)
        do {
            return try place(temp.path, id: id)
        } catch {
            unlink(temp.path)
            throw error
        }
    }

    private func place(_ tempPath: String, id: String) throws -> String {
        let shard = "\(root)/\(id.prefix(2))"
        if !FileManager.default.fileExists(atPath: shard) {
            try FileManager.default.createDirectory(atPath: shard, withIntermediateDirectories: true)
            try Self.syncDirectory(root)
        }
        let final = path(of: id)
        guard rename(tempPath, final) == 0 else {
            throw BlobError.failed("rename to \(final)")
        }
        try Self.syncDirectory(shard)
        return id
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw BlobError.failed("write") }
            offset += n
        }
    }

    /// fsync of a directory: makes a rename (or a new entry) in it durable.
    static func syncDirectory(_ path: String) throws {
        let fd = Glibc.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw BlobError("open \(path): \(String(cString: strerror(errno)))") }
        defer { Glibc.close(fd) }
        guard fsync(fd) == 0 else { throw BlobError.failed("fsync \(path)") }
    }
}

/// A file operation of the video service failed: the blob store's (the disk, a
/// missing source file) or a media job's in its work folder (`FFmpegStep`).
public struct BlobError: Error, Sendable, CustomStringConvertible {
    public let description: String
    /// The errno of a failed write-side call (create, write, fsync, rename), if any.
    public let errno: Int32?

    init(_ description: String, errno: Int32? = nil) {
        self.description = description
        self.errno = errno
    }

    /// The failed call's errno and its text, for a write-side failure.
    static func failed(_ what: String) -> BlobError {
        let code = Glibc.errno
        return BlobError("\(what): \(String(cString: strerror(code)))", errno: code)
    }

    /// The disk (or the quota) is full: nothing was stored, and the same call will
    /// succeed once space is free (the rpc answer is 205 storage-failure, not a bad request).
    public var diskFull: Bool { errno == ENOSPC || errno == EDQUOT }
}
