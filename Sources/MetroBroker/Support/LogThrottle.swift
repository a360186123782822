/// Lets a repeating log line through at most once per period, counting the rest:
/// a full disk fails every write and every event, and a line per failure would
/// only fill the disk further. Pure; the caller passes the time.
struct LogThrottle {
    let periodNs: UInt64
    private var last: UInt64 = 0
    private var suppressed = 0
    private var started = false

    init(periodNs: UInt64) { self.periodNs = periodNs }

    /// Whether to log now; if so, how many lines were held back since the last one.
    mutating func allow(now: UInt64) -> Int? {
        if started && now &- last < periodNs {
            suppressed += 1
            return nil
        }
        started = true
        last = now
        defer { suppressed = 0 }
        return suppressed
    }
}
