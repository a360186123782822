#if canImport(Glibc)
    import Glibc
#endif

/// A read-only memory map of a whole file, for recovery scans and reads.
/// Unmapped on `deinit`; used on one thread.
final class MappedFile {
    let bytes: UnsafeRawBufferPointer
    private let base: UnsafeMutableRawPointer?
    private let length: Int

    init(path: String) throws(JournalError) {
        let fd = try FileIO.open(path, flags: O_RDONLY)
        defer { Glibc.close(fd) }
        let size = Int(try FileIO.size(fd, path: path))
        length = size
        if size == 0 {
            base = nil
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        guard let p = mmap(nil, size, PROT_READ, MAP_SHARED, fd, 0), p != MAP_FAILED else {
            throw JournalError(.read, operation: "mmap", path: path, errno: Glibc.errno)
        }
        base = p
        bytes = UnsafeRawBufferPointer(start: p, count: size)
    }

    deinit { if let base { munmap(base, length) } }
}
