#if canImport(Glibc)
    import Glibc
#endif

/// A failure of the broker's storage: the journal, the seq reservation, the
/// groups' state file (swift-service-lifecycle's `ServiceGroupError` shape: a
/// `Code` over a private enum, plus context).
package struct JournalError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of storage call failed. Callers branch on this, never on `operation`.
    package struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: Hashable, Sendable {
            case open, read, write, sync, corrupt
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// Opening, creating or listing a file or folder failed.
        package static let open = Code(.open)
        /// Reading (pread, fstat, mmap) failed, or what was read cannot be used.
        package static let read = Code(.read)
        /// Writing, truncating or renaming failed: nothing is lost, the bytes are
        /// still in memory and are written again.
        package static let write = Code(.write)
        /// fsync or fdatasync failed: after that the page cache's state is unknown
        /// (the kernel may have dropped the dirty pages and a second sync would
        /// "succeed" without them: PostgreSQL's fsync lesson, 2018), so the broker
        /// treats it as fatal (protocol.md §4.2.7).
        package static let sync = Code(.sync)
        /// A file is not what it should be (not a Metro segment, a state file that
        /// does not decode).
        package static let corrupt = Code(.corrupt)

        package var description: String {
            switch value {
            case .open: "open"
            case .read: "read"
            case .write: "write"
            case .sync: "sync"
            case .corrupt: "corrupt"
            }
        }
    }

    package let code: Code
    /// The call or step that failed, for the log ("pwrite", "fdatasync", ...).
    package let operation: String
    package let path: String
    package let errno: Int32

    package init(_ code: Code, operation: String, path: String, errno: Int32) {
        self.code = code
        self.operation = operation
        self.path = path
        self.errno = errno
    }

    package var description: String {
        "journal \(operation) \(path): \(String(cString: strerror(errno))) (errno \(errno))"
    }

    /// Whether an fsync or fdatasync failed (`Code.sync`).
    package var isSyncFailure: Bool { code == .sync }
}
