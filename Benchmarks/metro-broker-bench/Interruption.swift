import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// What an interrupted bench must not leave behind: its target processes (a
/// `metro broker` keeps its ports, a proxy its CPU) and the brokers' journal
/// folders in the temp directory (~85 MB each). Targets register here while they
/// run; SIGINT, SIGTERM or SIGHUP kill them, wait until each is dead, remove the
/// folders and exit with 128 + the signal. A bench killed with -9 cannot clean
/// up, but its brokers still stop by themselves (they run under
/// `METRO_SUPERVISOR_PID`, docs/operations.md), so none keeps its ports.
enum Interruption {
    private static let live = Mutex<[Int32: String?]>([:])
    nonisolated(unsafe) private static var sources: [any DispatchSourceSignal] = []

    /// Installs the handlers; call once, before the first target starts.
    static func install() {
        for sig in [SIGINT, SIGTERM, SIGHUP] {
            signal(sig, SIG_IGN)  // the dispatch source takes it instead
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { cleanUpAndExit(sig) }
            source.resume()
            sources.append(source)
        }
    }

    private static let interrupted = Atomic<Bool>(false)

    /// Called by the main thread before it starts a target and when a target
    /// fails: once a signal came, it waits here for the handler to clean up and
    /// exit, instead of making a new folder or dying of the error a killed
    /// target causes (which would exit before the folders are gone).
    static func parkIfInterrupted() {
        guard interrupted.load(ordering: .acquiring) else { return }
        while true { pause() }
    }

    static func started(pid: Int32, dataDir: String?) { live.withLock { $0[pid] = dataDir } }
    static func stopped(pid: Int32) { _ = live.withLock { $0.removeValue(forKey: pid) } }

    private static func cleanUpAndExit(_ sig: Int32) -> Never {
        interrupted.store(true, ordering: .releasing)
        let targets = live.withLock { $0 }
        for pid in targets.keys { kill(pid, SIGKILL) }
        for (pid, dataDir) in targets {
            // Dead once /proc shows it a zombie (Foundation reaps it) or gone: its
            // journal files are closed then, and the folder can go.
            let deadline = Date().addingTimeInterval(5)
            while Date() < deadline, isAlive(pid) { usleep(10_000) }
            if let dataDir { try? FileManager.default.removeItem(atPath: dataDir) }
        }
        FileHandle.standardError.write(
            Data("interrupted: stopped \(targets.count) target(s), removed their data\n".utf8))
        exit(128 + sig)
    }

    private static func isAlive(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return false }
        return !stat[stat.index(after: close)...].hasPrefix(" Z")
    }
}

let usage = """
    metro-broker-bench: the broker against libzmq's zmq_proxy, in one run (release builds).

    usage:
      metro-broker-bench [--events N] [--acked-events N] [--rounds N] [--only PART] [--quick]
      metro-broker-bench delivery [--events N] [--rounds N]
      metro-broker-bench groups [--events N] [--rounds N]
      metro-broker-bench redelivery [--trials N]
      metro-broker-bench --help

      --events N        fire-and-forget events per run (default 1000000)
      --acked-events N  acknowledged events per run (default 200000)
      --rounds N        runs per target, alternated; rates are medians (default 3)
      --only PART       fire-and-forget, acknowledged, latency, memory, replay or
                        fan-out
      --fanout-events N events per fan-out row (default 200000, divided by
                        subscribers/4); --fanout-rounds N (3)
      --quick           every table (the delivery ones too) with small counts, in
                        under a minute: a smoke run, not figures to quote
      --replay-events N journaled events the replay table reads (default 2000000);
                        --replay-rounds N (3), --replay-batch BYTES (65536),
                        --seek-samples N (500)
      delivery          replay and consumer-group figures instead
      groups            only the consumer-group table (1-8 members, per event and
                        packed, alternating)
      redelivery        kill -9 of a member process to the first redelivery, p50 of
                        --trials (default 9)

    It starts `metro broker` (the binary next to this one) with its journal in the
    temp directory; Ctrl-C stops every target and removes those folders.
    """
