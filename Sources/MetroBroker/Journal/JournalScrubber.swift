import Foundation
import Logging
import MetroProtocol
import Synchronization
import ZeroMQ

#if canImport(Glibc)
    import Glibc
#endif

/// Reads every sealed segment of the journal in the background and checks each
/// record's framing and checksum, so that damage on disk (bit rot, a bad copy
/// back) is found while a backup still holds the record whole, not weeks later
/// when a group or a replay reaches it and stops (docs/operations.md, "A damaged
/// journal record").
///
/// Design:
/// - A thread of its own (`journal-scrub` in `top -H`), never the loop: a pass reads
///   the whole journal. It shares no state with the loop; it reads the segment
///   files as `metro backup` does, with the recovery's `SegmentScanner`.
/// - Only sealed segments: those whose index ends with the seal entry, whose
///   offset is the data file's size. Such a file never changes again (retention
///   may unlink it: the map outlives that; one gone before it is opened is
///   skipped). The active segment, and one the syncer has not sealed yet, wait
///   for the next pass: a map of a file that the seal may still cut would fault.
/// - Paced: after each segment it waits as long as reading it at
///   `bytesPerSecond` takes, so a pass does not take the disk from the loop.
/// - A pass every `interval`; the first one `min(interval, 10 min)` after the
///   start, so a broker that restarts often is still checked.
/// - What it finds is logged (error), once per damaged segment per pass, with the
///   seq and offset of the first damaged record in it (the seq from the index:
///   the record's own bytes are not trusted), and kept in atomics that the loop
///   reads into STATS (`scrub`) and the metrics: passes, bytes read, damaged
///   segments in the last pass, when it ended.
///
/// Threading: `start` and `stop` from one thread (the loop's); `stats` from any.
final class JournalScrubber: @unchecked Sendable {
    struct Settings: Sendable {
        var interval: Duration
        var bytesPerSecond: Int64
    }

    /// One damaged sealed segment.
    struct Damage: Equatable, CustomStringConvertible {
        var segment: String
        /// Where its first damaged record starts.
        var offset: Int64
        /// That record's seq, from the index; nil if the index names no record there.
        var seq: UInt64?
        var description: String { "\(segment) at offset \(offset) (seq \(seq.map(String.init) ?? "unknown"))" }
    }

    /// What one segment turned out to be.
    enum Outcome: Equatable {
        case whole(bytes: Int64)
        case damaged(Damage, bytes: Int64)
        /// Not sealed yet (active, or its seal is on its way), or gone: next pass.
        case skipped
    }

    private let directory: String
    private let settings: Settings
    private let logger: Logger
    private let condition = NSCondition()
    private var stopping = false  // guarded by `condition`
    private var thread: DedicatedThread?
    private let done = DispatchSemaphore(value: 0)
    private let passes = Atomic<UInt64>(0)
    private let bytesRead = Atomic<UInt64>(0)
    private let damagedSegments = Atomic<Int>(0)
    private let lastPassEndedMs = Atomic<UInt64>(0)

    init(directory: String, settings: Settings, logger: Logger) {
        self.directory = directory
        self.settings = settings
        self.logger = logger
    }

    /// What the scrubber has done so far. Any thread.
    var stats: ScrubStats {
        ScrubStats(
            passes: passes.load(ordering: .relaxed), bytesRead: bytesRead.load(ordering: .relaxed),
            damagedSegments: damagedSegments.load(ordering: .relaxed),
            lastPassEndedMs: lastPassEndedMs.load(ordering: .relaxed))
    }

    func start() {
        let t = DedicatedThread(name: "journal-scrub") { [self] in
            defer { done.signal() }
            var wait = min(settings.interval, .seconds(600))
            while pause(wait) {
                pass()
                wait = settings.interval
            }
        }
        thread = t
        t.start()
    }

    /// Ends the thread (a segment being read is finished first) and waits for it.
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
        if thread != nil { done.wait() }
        thread = nil
    }

    /// Waits `duration` unless stopped meanwhile; false when stopping.
    private func pause(_ duration: Duration) -> Bool {
        let (seconds, attoseconds) = duration.components
        let deadline = Date(timeIntervalSinceNow: Double(seconds) + Double(attoseconds) / 1e18)
        condition.lock()
        defer { condition.unlock() }
        while !stopping && condition.wait(until: deadline) {}
        return !stopping
    }

    /// Checks every sealed segment once, paced; publishes the result if it was
    /// not stopped midway.
    private func pass() {
        let bases: [UInt64]
        do {
            bases = try FileIO.list(directory).compactMap(JournalSegment.base(ofFileName:)).sorted()
        } catch {
            logger.error("journal scrub: cannot list the journal: \(error)")
            return
        }
        var damaged = 0
        // The last segment is the active one.
        for base in bases.dropLast() {
            let outcome: Outcome
            do { outcome = try Self.check(base: base, in: directory) } catch {
                logger.error("journal scrub: cannot read a segment: \(error)")
                continue
            }
            var read: Int64 = 0
            switch outcome {
            case .skipped: continue
            case .whole(let bytes): read = bytes
            case .damaged(let damage, let bytes):
                read = bytes
                damaged += 1
                logger.error(
                    "journal scrub found a damaged record: readers will stop before it",
                    metadata: [
                        "segment": "\(damage.segment)", "offset": "\(damage.offset)",
                        "seq": "\(damage.seq.map(String.init) ?? "unknown")",
                        "remedy":
                            "repair it from a backup that holds it whole before a group reaches it (system stopped: metro backup repair-journal --from BACKUP)",
                    ])
            }
            bytesRead.add(UInt64(read), ordering: .relaxed)
            guard pause(.nanoseconds(read * 1_000_000_000 / max(1, settings.bytesPerSecond))) else { return }
        }
        damagedSegments.store(damaged, ordering: .relaxed)
        lastPassEndedMs.store(UInt64(Date().timeIntervalSince1970 * 1000), ordering: .relaxed)
        passes.add(1, ordering: .relaxed)
    }

    /// Reads one segment of `directory` whole if it is sealed, checking every
    /// record. Pure over the files; throws only for a file that exists and cannot be read.
    static func check(base: UInt64, in directory: String) throws(JournalError) -> Outcome {
        let segment = JournalSegment(base: base, directory: directory, size: 0, records: 0)
        let entryBytes = JournalSegment.indexEntryBytes
        let index: MappedFile
        let data: MappedFile
        do {
            index = try MappedFile(path: segment.indexPath)
            data = try MappedFile(path: segment.dataPath)
        } catch {
            if error.errno == ENOENT { return .skipped }  // retention removed it
            throw error
        }
        func entry(_ i: Int) -> (seq: UInt64, offset: UInt64) {
            (
                UInt64(littleEndian: index.bytes.loadUnaligned(fromByteOffset: i * entryBytes, as: UInt64.self)),
                UInt64(littleEndian: index.bytes.loadUnaligned(fromByteOffset: i * entryBytes + 8, as: UInt64.self))
            )
        }
        let entries = index.bytes.count / entryBytes
        guard entries >= 1, index.bytes.count % entryBytes == 0 else { return .skipped }
        let seal = entry(entries - 1)
        guard seal.seq == 0, seal.offset == UInt64(data.bytes.count) else { return .skipped }
        let size = Int64(data.bytes.count)
        let scan = SegmentScanner.scan(data.bytes, after: 0)
        guard scan.ending != .clean || scan.validEnd < size else { return .whole(bytes: size) }
        // The index's entry for the record where the scan stopped (offsets increase).
        var low = 0
        var high = entries - 1
        var seq: UInt64? = nil
        while low < high {
            let mid = (low + high) / 2
            let e = entry(mid)
            if e.offset == UInt64(scan.validEnd) {
                seq = e.seq
                break
            }
            if e.offset < UInt64(scan.validEnd) { low = mid + 1 } else { high = mid }
        }
        if seq == nil && low < entries - 1 && entry(low).offset == UInt64(scan.validEnd) { seq = entry(low).seq }
        let name = segment.dataPath.split(separator: "/").last.map(String.init) ?? segment.dataPath
        return .damaged(Damage(segment: name, offset: scan.validEnd, seq: seq), bytes: size)
    }
}
