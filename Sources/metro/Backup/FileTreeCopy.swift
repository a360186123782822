import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Copies regular files for `metro backup`: each file's bytes, its mode (a
/// secret key stays 0600), fdatasynced, and its folder fsynced, so that a
/// backup that said "done" survives a power cut of the backup disk.
enum FileTreeCopy {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Copies `source` to `target` (a new file); returns its size.
    @discardableResult
    static func copyFile(_ source: String, to target: String) throws -> Int64 {
        let input = open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw failure("open", source) }
        defer { close(input) }
        guard let permissions = try? FileManager.default.attributesOfItem(atPath: source)[.posixPermissions] as? Int
        else { throw failure("stat", source) }
        let mode = mode_t(permissions & 0o777)
        let output = open(target, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard output >= 0 else { throw failure("create", target) }
        defer { close(output) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var total: Int64 = 0
        while true {
            let n = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw failure("read", source)
            }
            if n == 0 { break }
            var done = 0
            while done < n {
                let w = buffer.withUnsafeBytes { write(output, $0.baseAddress! + done, n - done) }
                if w < 0 {
                    if errno == EINTR { continue }
                    throw failure("write", target)
                }
                done += w
            }
            total += Int64(n)
        }
        // The mode as the source's, whatever the umask took from it.
        guard fchmod(output, mode) == 0, fdatasync(output) == 0 else { throw failure("sync", target) }
        return total
    }

    /// Makes `path` and its parents (mode `mode` for the ones it makes); an error
    /// names the folder mkdir refused and its errno's words.
    static func makeFolder(_ path: String, mode: mode_t = 0o700) throws {
        var prefix = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            prefix += "/" + part
            if mkdir(prefix, mode) != 0 && errno != EEXIST { throw failure("cannot create", prefix) }
        }
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue else {
            throw Failure(description: "\(path) is not a folder")
        }
    }

    static func syncFolder(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw failure("open", path) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw failure("fsync", path) }
    }

    /// The regular files directly in `folder` (none if it does not exist).
    static func files(in folder: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted().filter {
            (try? FileManager.default.attributesOfItem(atPath: "\(folder)/\($0)")[.type] as? FileAttributeType)
                == .typeRegular
        }
    }

    private static func failure(_ call: String, _ path: String) -> Failure {
        Failure(description: "\(call) \(path): \(String(cString: strerror(errno)))")
    }

}
