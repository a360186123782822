import Logging

#if canImport(Glibc)
    import Glibc
#endif

extension Journal {
    /// Removes whole sealed segments, oldest first, while the journal is larger than
    /// `retentionBytes` or the oldest segment's last record is older than
    /// `retentionAgeNanoseconds` before `now`. The active segment always stays.
    /// Returns how many segments were removed.
    @discardableResult
    package func applyRetention(now: UInt64) -> Int {
        var removed = 0
        var total = totalBytes
        while segments.count > 1 {
            let oldest = segments[0]
            let tooBig = options.retentionBytes > 0 && total > options.retentionBytes
            let tooOld =
                options.retentionAgeNanoseconds > 0
                && oldest.lastTime &+ options.retentionAgeNanoseconds < now
            guard tooBig || tooOld else { break }
            unlink(oldest.dataPath)
            unlink(oldest.indexPath)
            total -= oldest.diskBytes
            segments.removeFirst()
            removed += 1
        }
        if removed > 0 {
            logger.info("journal retention removed \(removed) segment(s)")
            onRetention(removed)
        }
        return removed
    }

    /// The oldest seq the journal still holds (0 if empty).
    package var firstSeq: UInt64 { segments.first(where: { $0.records > 0 })?.firstSeq ?? 0 }
}
