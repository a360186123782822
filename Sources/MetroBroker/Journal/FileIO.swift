#if canImport(Glibc)
    import Glibc
#endif

/// The journal's one error type: a failed file operation, with its errno and path.
/// Thin POSIX file calls for the journal: errno read at once, EINTR retried,
/// short writes completed. Runs on whichever thread calls it.
enum FileIO {
    static func open(_ path: String, flags: Int32, mode: mode_t = 0o644) throws(JournalError) -> Int32 {
        while true {
            let fd = Glibc.open(path, flags | O_CLOEXEC, mode)
            if fd >= 0 { return fd }
            let e = Glibc.errno
            if e != EINTR { throw JournalError(.open, operation: "open", path: path, errno: e) }
        }
    }

    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws(JournalError) {
        var done = 0
        while done < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                let e = Glibc.errno
                if e == EINTR { continue }
                throw JournalError(.write, operation: "write", path: path, errno: e)
            }
            done += n
        }
    }

    static func pwriteAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int64, path: String)
        throws(JournalError)
    {
        var done = 0
        while done < bytes.count {
            let n = Glibc.pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                let e = Glibc.errno
                if e == EINTR { continue }
                throw JournalError(.write, operation: "pwrite", path: path, errno: e)
            }
            done += n
        }
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws(JournalError) {
        var failure: JournalError?
        bytes.withUnsafeBytes { raw in
            do throws(JournalError) { try writeAll(fd, raw, path: path) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    static func pwriteAll(_ fd: Int32, _ bytes: [UInt8], at offset: Int64, path: String) throws(JournalError) {
        var failure: JournalError?
        bytes.withUnsafeBytes { raw in
            do throws(JournalError) { try pwriteAll(fd, raw, at: offset, path: path) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// Reads up to `count` bytes at `offset`; fewer only at the end of the file.
    static func pread(_ fd: Int32, count: Int, at offset: Int64, path: String) throws(JournalError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var done = 0
        var failure: Int32 = 0
        out.withUnsafeMutableBytes { buf in
            while done < count {
                let n = Glibc.pread(fd, buf.baseAddress! + done, count - done, off_t(offset) + off_t(done))
                if n < 0 {
                    if Glibc.errno == EINTR { continue }
                    failure = Glibc.errno
                    return
                }
                if n == 0 { return }
                done += n
            }
        }
        if failure != 0 { throw JournalError(.read, operation: "pread", path: path, errno: failure) }
        out.removeLast(count - done)
        return out
    }

    /// Reads up to `buffer.count` bytes at `offset` into `buffer` (fewer only at the
    /// end of the file); the count read.
    static func pread(
        _ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64, path: @autoclosure () -> String
    ) throws(JournalError) -> Int {
        var done = 0
        while done < buffer.count {
            let n = Glibc.pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if Glibc.errno == EINTR { continue }
                throw JournalError(.read, operation: "pread", path: path(), errno: Glibc.errno)
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    static func size(_ fd: Int32, path: String) throws(JournalError) -> Int64 {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw JournalError(.read, operation: "fstat", path: path, errno: Glibc.errno) }
        return Int64(st.st_size)
    }

    static func truncate(_ fd: Int32, to size: Int64, path: String) throws(JournalError) {
        guard ftruncate(fd, off_t(size)) == 0 else {
            throw JournalError(.write, operation: "ftruncate", path: path, errno: Glibc.errno)
        }
    }

    /// fdatasync; throws (never retried: see `JournalError.isSyncFailure`).
    static func sync(_ fd: Int32, path: String) throws(JournalError) {
        guard fdatasync(fd) == 0 else {
            let e = Glibc.errno
            throw JournalError(.sync, operation: "fdatasync", path: path, errno: e)
        }
    }

    /// fsyncs a directory so that created and removed names are durable.
    static func syncDirectory(_ path: String) throws(JournalError) {
        let fd = try open(path, flags: O_RDONLY | O_DIRECTORY)
        defer { Glibc.close(fd) }
        guard fsync(fd) == 0 else {
            let e = Glibc.errno
            throw JournalError(.sync, operation: "fsync", path: path, errno: e)
        }
    }

    static func makeDirectory(_ path: String) throws(JournalError) {
        var prefix = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            prefix += "/" + part
            if mkdir(prefix, 0o755) != 0 && Glibc.errno != EEXIST {
                throw JournalError(.open, operation: "mkdir", path: prefix, errno: Glibc.errno)
            }
        }
    }

    static func list(_ path: String) throws(JournalError) -> [String] {
        guard let dir = opendir(path) else {
            throw JournalError(.open, operation: "opendir", path: path, errno: Glibc.errno)
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}
