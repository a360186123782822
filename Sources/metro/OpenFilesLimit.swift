#if canImport(Glibc)
    import Glibc
#endif

/// The process's open-files limit (RLIMIT_NOFILE): the broker's descriptor budget.
///
/// Every client connection costs the broker one descriptor, and so does each
/// replay while it is sending (one that waits holds none: protocol.md §4.9,
/// "Cost") and each consumer group that has read the journal. A soft limit of 1024,
/// a common default, is reached by about 1,000 clients; past it libzmq cannot
/// accept connections and the journal cannot open segments. The hard limit is the
/// ceiling an unprivileged process may raise its soft limit to, so the broker
/// raises it at start (`raiseToHard`) and logs both, and `metro doctor` reports them.
struct OpenFilesLimit: Equatable {
    var soft: UInt64
    var hard: UInt64

    /// The kernel's default ceiling for one process (`/proc/sys/fs/nr_open`): a
    /// hard limit of "unlimited" is raised to this, not to infinity.
    static let unlimitedCeiling: UInt64 = 1 << 20

    /// The limit now.
    static func current() -> OpenFilesLimit {
        var r = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &r) == 0 else { return OpenFilesLimit(soft: 0, hard: 0) }
        return OpenFilesLimit(soft: UInt64(r.rlim_cur), hard: UInt64(r.rlim_max))
    }

    /// What the soft limit becomes when raised: the hard limit, or the ceiling
    /// when the hard limit is unlimited.
    var raised: UInt64 {
        hard == UInt64.max ? max(soft, Self.unlimitedCeiling) : hard  // RLIM_INFINITY
    }

    /// Raises the soft limit to `raised`. Returns the limit before and after
    /// (after == before when there was nothing to raise or the kernel refused).
    static func raiseToHard() -> (before: OpenFilesLimit, after: OpenFilesLimit) {
        let before = current()
        guard before.soft < before.raised else { return (before, before) }
        var r = rlimit(rlim_cur: rlim_t(before.raised), rlim_max: rlim_t(before.hard))
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &r)
        return (before, current())
    }
}
