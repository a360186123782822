#if canImport(Glibc)
    import Glibc
#endif

/// The process's resident set size, for STATS `rssBytes` (protocol.md §4.5).
/// Read from `/proc/self/statm` (its second field is resident pages) with one
/// `read(2)` into a stack buffer: the loop thread asks at most once per STATS or
/// metrics period, and a failed read (no /proc) answers 0 rather than failing STATS.
enum ResidentMemory {
    static func bytes() -> UInt64 {
        let fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return 0 }
        defer { close(fd) }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 128) { buffer -> UInt64 in
            let n = read(fd, buffer.baseAddress, buffer.count)
            guard n > 0 else { return 0 }
            // "size resident shared ...": skip the first field, parse the second.
            var i = 0
            while i < n, buffer[i] != UInt8(ascii: " ") { i += 1 }
            i += 1
            var pages: UInt64 = 0
            while i < n, buffer[i] >= UInt8(ascii: "0"), buffer[i] <= UInt8(ascii: "9") {
                pages = pages &* 10 &+ UInt64(buffer[i] - UInt8(ascii: "0"))
                i += 1
            }
            return pages &* UInt64(sysconf(Int32(_SC_PAGESIZE)))
        }
    }
}
