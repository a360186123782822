import Logging
import MetroProtocol

#if canImport(Glibc)
    import Glibc
#endif

/// Stores the groups' durable state in `<dataDir>/groups.state`: encoded by
/// `GroupStateCodec`, written to `groups.state.tmp`, fsynced, renamed over the old
/// file, and the folder fsynced, so a crash leaves either the old or the new state.
/// The broker calls `save` at most every `GroupCoordinator.saveIntervalNs` while
/// something changed, and on shutdown (batched: never once per ACK).
///
/// A failed write or rename throws and the old file stays (the broker tries again
/// at the next save); a failed sync throws too, and the broker treats it as a
/// storage failure (`JournalError.isSyncFailure`, protocol.md §4.2.7).
///
/// Threading: used on the broker's loop thread only.
struct GroupStore {
    let directory: String
    var path: String { directory + "/groups.state" }

    func load() throws(JournalError) -> [GroupStateCodec.Group] {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if Glibc.errno == ENOENT { return [] }
            throw JournalError(.open, operation: "open", path: path, errno: Glibc.errno)
        }
        defer { Glibc.close(fd) }
        let size = try FileIO.size(fd, path: path)
        let bytes = try FileIO.pread(fd, count: Int(size), at: 0, path: path)
        guard let groups = GroupStateCodec.decode(bytes) else {
            throw JournalError(.corrupt, operation: "decode", path: path, errno: EILSEQ)
        }
        return groups
    }

    func save(_ groups: [GroupStateCodec.Group]) throws(JournalError) {
        let temp = path + ".tmp"
        let fd = try FileIO.open(temp, flags: O_WRONLY | O_CREAT | O_TRUNC)
        do {
            defer { Glibc.close(fd) }
            try FileIO.writeAll(fd, GroupStateCodec.encode(groups), path: temp)
            // Renaming an unsynced file over the old state could leave neither after a crash.
            try FileIO.sync(fd, path: temp)
        }
        guard rename(temp, path) == 0 else {
            let e = Glibc.errno
            throw JournalError(.write, operation: "rename", path: path, errno: e)
        }
        try FileIO.syncDirectory(directory)
    }
}
