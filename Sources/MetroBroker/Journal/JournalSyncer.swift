import Foundation
import Synchronization
import ZeroMQ

#if canImport(Glibc)
    import Glibc
#endif

/// Makes the journal durable on its own thread, so that `fdatasync` never stalls
/// the broker's loop (libzmq-from-swift.md: an inline sync costs the loop ~30%).
///
/// The loop calls `request(token:for:)` after each flush; the syncer
/// fsyncs (coalescing requests that pile up while it syncs: group commit), then
/// publishes the token as `durableToken` and writes a byte to `wakeFD`, which the
/// loop polls. Sealed segments come through `retire`: sealed (synced, cut to size,
/// seal entry written: `SealedSegment`) and closed first, in the order they came.
/// With the `interval` policy it also syncs at least every `interval`.
///
/// A request also carries the journal's zero-fill mark (`ZeroFill`): the zeros
/// written before the request are on disk once that fdatasync returns, and the
/// syncer then publishes the mark as `durableZeroFill`. The syncer never writes
/// the active file; it only syncs it.
///
/// A failed sync is never retried (`JournalError.isSyncFailure`): the syncer
/// publishes it as `failure` instead of the token, wakes the loop, and from then
/// on publishes no token and syncs nothing; sealed segments it still receives are
/// closed unsealed (recovery rescans them). The loop answers every waiting ACK
/// with ERROR 205 and the broker exits (protocol.md §4.2.7).
package final class JournalSyncer: @unchecked Sendable {
    private struct Pending {
        var token: UInt64 = 0
        var dataFD: Int32 = -1
        var dataPath = ""
        var zeroFill = ZeroFill.Mark.none
        var retired: [SealedSegment] = []
        var stopping = false
        /// Whether the loop waits for the wake (it has ACKs queued).
        var notify = false
    }

    private let condition = NSCondition()
    private var pending = Pending()  // guarded by `condition`
    private var syncedToken: UInt64 = 0  // syncer thread only
    private let directory: String
    private let interval: Duration?
    private let durable = Atomic<UInt64>(0)
    private let syncCount = Atomic<UInt64>(0)
    private let syncNanos = Atomic<UInt64>(0)
    private let durableFill = Mutex(ZeroFill.Mark.none)
    private let failed = Mutex<JournalError?>(nil)
    private var thread: DedicatedThread?
    private let done = DispatchSemaphore(value: 0)
    /// Becomes readable when `durableToken` moved.
    private let wakePipe = WakePipe()
    /// Read end of the wake pipe: poll it for readability. Non-blocking.
    package var wakeFD: Int32 { wakePipe.readFD }

    /// `interval`: sync at least this often even without requests (the `interval` policy).
    package init(directory: String, interval: Duration? = nil) {
        self.directory = directory
        self.interval = interval
    }

    /// The highest token whose data is on disk. Any thread.
    package var durableToken: UInt64 { durable.load(ordering: .acquiring) }
    /// fdatasync calls made. Any thread.
    package var fsyncs: UInt64 { syncCount.load(ordering: .relaxed) }
    /// Time spent inside fdatasync, in nanoseconds (divide by `fsyncs` for the mean). Any thread.
    package var fsyncNanoseconds: UInt64 { syncNanos.load(ordering: .relaxed) }
    /// The sync that failed, if one did: no token after the last `durableToken`
    /// will ever be durable. Any thread; the loop reads it when woken.
    package var failure: JournalError? { failed.withLock { $0 } }
    /// The zero-fill mark of the last request whose fdatasync has returned. Any thread.
    var durableZeroFill: ZeroFill.Mark { durableFill.withLock { $0 } }

    package func start() {
        // Named in the kernel (`top -H`): Foundation's `Thread.name` is not, and the
        // thread showed as its creator, `metro-broker`.
        let t = DedicatedThread(name: "journal-sync") { [self] in run() }
        thread = t
        t.start()
    }

    /// Asks for everything `journal` has written so far (tagged `token`, growing) to
    /// be made durable. Loop thread, after `journal.flush()`. Under the `interval`
    /// policy the syncer is not woken: it syncs on its timer, and waking it for
    /// every batch only to find the sync not yet due cost a context switch per
    /// batch, which showed in fan-out latency on 2 cores.
    ///
    /// `notify`: write to `wakeFD` once this token is durable. The loop asks only
    /// when ACKs wait for it; fire-and-forget traffic under `always` would
    /// otherwise wake the loop once per fsync for nothing.
    /// The journal's zero-fill mark is published as `durableZeroFill` once its data
    /// file's fdatasync has returned.
    package func request(token: UInt64, for journal: Journal, notify: Bool = true) {
        condition.lock()
        pending.token = max(pending.token, token)
        pending.notify = pending.notify || notify
        pending.dataFD = journal.activeDataFD
        pending.dataPath = journal.activeDataPath
        pending.zeroFill = journal.zeroFillMark
        condition.unlock()
        // Signalled after the unlock: signalled while the loop still held the lock,
        // the woken syncer found it taken and both threads made one more futex call
        // per request (strace at window 1). The syncer re-checks `pending` under
        // the lock, so a signal after the unlock cannot be lost.
        if interval == nil { condition.signal() }
    }

    /// Takes a sealed segment: the syncer seals it, then closes its descriptors.
    package func retire(_ segment: SealedSegment) {
        condition.lock()
        pending.retired.append(segment)
        condition.signal()
        condition.unlock()
    }

    /// Clears the wake pipe (loop thread, when `wakeFD` polled readable).
    package func drainWake() { wakePipe.drain() }

    /// Finishes the outstanding work and ends the thread. Blocks until then.
    package func stop() {
        condition.lock()
        pending.stopping = true
        condition.signal()
        condition.unlock()
        if thread != nil { done.wait(); thread = nil }
    }

    private func timedSync(_ fd: Int32, path: String) throws(JournalError) {
        var start = timespec(), end = timespec()
        clock_gettime(CLOCK_MONOTONIC, &start)
        defer {
            clock_gettime(CLOCK_MONOTONIC, &end)
            let ns = (end.tv_sec - start.tv_sec) * 1_000_000_000 + (end.tv_nsec - start.tv_nsec)
            syncNanos.add(UInt64(max(0, ns)), ordering: .relaxed)
            syncCount.add(1, ordering: .relaxed)
        }
        try FileIO.sync(fd, path: path)
    }

    /// Makes `work` durable: seals its retired segments, then syncs the active file.
    /// Throws the first failed sync (and leaves the rest of `work` undone).
    private func sync(_ work: Pending) throws(JournalError) {
        var sealing = work.retired[...]
        defer { for segment in sealing.dropFirst() { segment.close() } }
        while let segment = sealing.first {
            try segment.sealAndClose(sync: timedSync)
            sealing.removeFirst()
        }
        if !work.retired.isEmpty { try FileIO.syncDirectory(directory) }
        // A data file retired in this round was synced (and closed) by its seal.
        let retiredNow = work.retired.contains { $0.dataFD == work.dataFD }
        if work.dataFD >= 0 && work.token > syncedToken && !retiredNow {
            try timedSync(work.dataFD, path: work.dataPath)
            // Every zero the loop wrote before this request is on disk now.
            durableFill.withLock { $0 = work.zeroFill }
        }
    }

    private func run() {
        var lastSync = ContinuousClock.now
        while true {
            condition.lock()
            if failure != nil {
                // Tokens never become durable again: wait only for segments to close and for stop.
                while !pending.stopping && pending.retired.isEmpty { condition.wait() }
            } else if let interval {
                // Sync written data once per interval; sealed segments and stop at once.
                while !pending.stopping && pending.retired.isEmpty {
                    let due = lastSync + interval
                    let left = ContinuousClock.now.duration(to: due)
                    if pending.token != syncedToken && left <= .zero { break }
                    let wait = left > .zero ? left : interval
                    _ = condition.wait(
                        until: Date(
                            timeIntervalSinceNow: Double(wait.components.seconds)
                                + Double(wait.components.attoseconds) / 1e18))
                }
            } else {
                // `notify` alone (its token already durable) still gets its wake.
                while !pending.stopping && pending.token == syncedToken && pending.retired.isEmpty
                    && !pending.notify
                {
                    condition.wait()
                }
            }
            let work = pending
            pending.retired.removeAll()
            pending.notify = false
            condition.unlock()

            if failure != nil {
                // Nothing is synced again after a failure (see the type's comment).
                for segment in work.retired { segment.close() }
            } else {
                do throws(JournalError) {
                    try sync(work)
                    if work.dataFD >= 0 && work.token > syncedToken { lastSync = ContinuousClock.now }
                    if work.token > syncedToken {
                        syncedToken = work.token
                        durable.store(work.token, ordering: .releasing)
                    }
                } catch {
                    failed.withLock { $0 = error }
                    wakePipe.wake()
                }
            }
            if work.notify || work.stopping { wakePipe.wake() }
            if work.stopping { break }
        }
        done.signal()
    }
}
