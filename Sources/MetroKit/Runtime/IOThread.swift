import Logging
import ServiceLifecycle
import Synchronization
import ZeroMQ

/// The one I/O-thread model of every MetroKit client (in the spirit of CZMQ's
/// `zactor`): a dedicated thread that owns a client's ZeroMQ sockets, a command queue
/// that async callers fill, and a wake-up pipe that makes the thread look at it.
///
/// ## The threading rule
///
/// - The loop (`IOThreadLoop`) is made by `makeLoop` **on the I/O thread**, creates
///   its sockets there, and is used, and released, only there. It is not `Sendable`
///   and never escapes the thread; no socket crosses threads.
/// - Everything else here is safe from any thread or task and never blocks: `send`
///   takes a lock for a few instructions and, only if the thread sleeps, writes one
///   byte to a pipe; `run()`,
///   `shutdown()` and `join()` suspend on a continuation that the thread resumes as it
///   ends. Nothing waits on a semaphore, so nothing blocks Swift's cooperative pool.
/// - Results travel back the other way through continuations or `AsyncStream`s that
///   the loop resumes or yields to on the I/O thread.
///
/// ## Life
///
/// `init` starts nothing. The thread starts on the first `send` (or `start()`, or
/// `run()`), so a short-lived client is simply made, used and `shutdown()`; a
/// long-lived one is a `Service` whose `run()` is this type's `run()`. One turn of
/// the thread: poll the loop's poller (which watches `wakeFD` next to the sockets) up
/// to the loop's timeout — or not wait at all when commands are already queued —,
/// take the queued commands, read back the wake bytes written, and hand the commands
/// to `handle`. A stop request (`requestStop()`, `shutdown()`, graceful shutdown or
/// cancellation of `run()`) is seen on the next turn; then the loop's `finish()`
/// answers everyone it holds and closes the sockets, and `onEnd` answers the commands
/// that were queued but never handled and finishes the client's streams. The loop,
/// and with it the client's own context, is released on the thread, so
/// `zmq_ctx_term` does not run on a pool thread. A loop that throws ends the same
/// way, with one error log line. `requestStop()` before the thread started ends it
/// without ever starting it. `shutdown()` twice, or from many tasks at once, is fine.
final class IOThread<Loop: IOThreadLoop>: Sendable {
    /// What the loop gets, on the I/O thread, to set itself up.
    struct Setup {
        let context: Context
        /// Poll this next to the sockets: it is readable when commands are queued or a stop is asked.
        let wakeFD: Int32
        /// Whether a stop was asked; for loops that block inside a turn (Lazy Pirate retries).
        let isStopping: @Sendable () -> Bool
    }

    private struct Queue {
        var commands: [Loop.Command] = []
        var stopping = false
        /// The thread found the queue empty and is about to wait (or waits) in its poll:
        /// the next command must write the wake pipe. See `send`.
        var sleeping = false
        /// Bytes written to the wake pipe so far; the thread reads them all back.
        var wakesWritten = 0
    }

    /// What the thread takes, once, when it starts.
    private struct Start: Sendable {
        let context: Context
        let makeLoop: @Sendable (Setup) throws -> Loop
    }

    let name: String
    private let queue = Mutex(Queue())
    private let wakePipe = WakePipe()
    private let start: Mutex<Start?>
    /// Whether `start` has been taken: the lock-free fast path of `send` once running.
    private let startTaken = Atomic<Bool>(false)
    private let thread: Mutex<DedicatedThread?> = Mutex(nil)
    /// Resumed when the thread ended, or when a stop came before it started.
    private let ended = Mutex<(done: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))
    private let logger: Logger
    private let onEnd: @Sendable ([Loop.Command]) -> Void

    /// Prepares the thread; nothing runs yet. `makeLoop` runs on the I/O thread.
    /// `onEnd` runs once at the very end, on the I/O thread after the loop's `finish()`
    /// (or on the caller of a stop that came before the thread started), with the
    /// commands queued but never handled: it answers their callers and finishes the
    /// client's streams, which must end even when no loop was ever made.
    init(
        name: String, context: Context, logger: Logger,
        makeLoop: @escaping @Sendable (Setup) throws -> Loop,
        onEnd: @escaping @Sendable (_ unhandled: [Loop.Command]) -> Void
    ) {
        self.name = name
        self.logger = logger
        self.onEnd = onEnd
        start = Mutex(Start(context: context, makeLoop: makeLoop))
    }

    /// Queues `command` and wakes the thread, starting it if needed. Returns false
    /// (and queues nothing) once a stop was asked. Any thread; never blocks.
    ///
    /// The wake pipe is written only when the thread said it sleeps, so a burst of
    /// commands (several callers, handler answers coming back while the thread works)
    /// costs one `write`, one `poll` wake-up and one `read`, not one each. Why no
    /// command is ever left unseen: `sleeping` lives under the queue's lock with the
    /// commands. The thread sets it only in the same critical section in which it
    /// finds the queue empty, and polls with a timeout only then. A command appended
    /// before that section is seen by it (the thread does not sleep); one appended
    /// after it finds `sleeping` set, clears it and writes the pipe, which makes the
    /// poll return however late the byte lands. The thread clears `sleeping` when it
    /// takes the queue after its poll.
    @discardableResult
    func send(_ command: Loop.Command) -> Bool {
        let (accepted, mustWake) = queue.withLock { q in
            guard !q.stopping else { return (false, false) }
            q.commands.append(command)
            return (true, Self.claimWake(&q))
        }
        guard accepted else { return false }
        startIfNeeded()
        if mustWake { wakePipe.wake() }
        return true
    }

    /// Under the queue's lock: whether this caller must write the wake pipe (the thread
    /// sleeps and nobody wrote yet); if so, counts the byte it will write.
    private static func claimWake(_ q: inout Queue) -> Bool {
        guard q.sleeping else { return false }
        q.sleeping = false
        q.wakesWritten += 1
        return true
    }

    /// Starts the thread unless it has started or a stop was asked. Any thread; never blocks.
    func startIfNeeded() {
        guard !startTaken.load(ordering: .acquiring), let s = takeStart() else { return }
        let box = StartBox(s)
        let t = DedicatedThread(name: name) { [self] in threadMain(box) }
        thread.withLock { $0 = t }
        t.start()
    }

    /// Takes what the thread needs to start, once: for the thread, or for nobody (a stop before the start).
    private func takeStart() -> Start? {
        start.withLock { s in
            startTaken.store(true, ordering: .releasing)
            return s.take()
        }
    }

    /// Whether the thread has started (it may have ended since).
    var isStarted: Bool { thread.withLock { $0 != nil } }

    /// Whether a stop was asked.
    var isStopping: Bool { queue.withLock { $0.stopping } }

    /// For tests: wake-pipe writes so far, and the commands waiting for the thread.
    var wakeWrites: Int { queue.withLock { $0.wakesWritten } }
    var queuedCommands: Int { queue.withLock { $0.commands.count } }

    /// Asks the thread to stop after its current turn. Any thread, also `deinit`; never blocks.
    func requestStop() {
        let alreadyStopping = queue.withLock { q in
            defer {
                q.stopping = true
                q.wakesWritten += 1  // always written: a stop is rare, and never missed
            }
            return q.stopping
        }
        if alreadyStopping { return }
        wakePipe.wake()
        // Never started: it never will; whoever waits for the end may go on.
        if takeStart() != nil {
            onEnd(takeAll())
            markEnded()
        }
    }

    /// Starts the thread (if needed) and suspends until it ends. Graceful shutdown or
    /// cancellation of the calling task asks it to stop. For `Service.run()`.
    func run() async {
        startIfNeeded()
        await withTaskCancellationOrGracefulShutdownHandler {
            await join()
        } onCancelOrGracefulShutdown: {
            self.requestStop()
        }
    }

    /// Asks the thread to stop and suspends until it has ended (its sockets closed).
    func shutdown() async {
        requestStop()
        await join()
    }

    /// Suspends until the thread has ended (or a stop came before it started).
    func join() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let done = ended.withLock { e in
                if !e.done { e.waiters.append(c) }
                return e.done
            }
            if done { c.resume() }
        }
    }

    private func markEnded() {
        let waiters = ended.withLock { e in
            e.done = true
            defer { e.waiters = [] }
            return e.waiters
        }
        for w in waiters { w.resume() }
    }

    /// `Start`, handed to the thread so that the thread alone holds it (and the context).
    private final class StartBox: @unchecked Sendable {
        private var start: Start?
        init(_ start: Start) { self.start = start }
        /// Called once, by the thread.
        func take() -> Start? {
            defer { start = nil }
            return start
        }
    }

    /// The I/O thread's whole life. Ends with `finish()`, `onEnd` and the release of
    /// the loop and the context, all on this thread, and only then marks the thread
    /// ended: `runLoop`'s locals and the `Start` it was given are gone when it
    /// returns, so a context the client owns is terminated (`zmq_ctx_term`, which
    /// waits for the sockets' linger) before `shutdown()` returns. A process that
    /// exits right after `close()` (a CLI on SIGTERM) thus sends what `finish()`
    /// queued, such as a consumer's LEAVE; before, the release came after the end
    /// was marked, and under load the process could exit first and lose it.
    private func threadMain(_ box: StartBox) {
        defer { markEnded() }
        if let start = box.take() { runLoop(start) }
    }

    private func runLoop(_ start: Start) {
        let setup = Setup(context: start.context, wakeFD: wakePipe.readFD, isStopping: { [self] in isStopping })
        let loop: Loop
        do {
            loop = try start.makeLoop(setup)
        } catch {
            logger.error("\(name) could not start: \(error)")
            onEnd(takeAll())
            return
        }
        var unhandled: [Loop.Command] = []
        // Wake bytes read back so far; fewer than written means a byte is in the pipe or on its way.
        var wakesRead = 0
        do {
            while true {
                let idle = queue.withLock { q in
                    let idle = q.commands.isEmpty && !q.stopping
                    if idle { q.sleeping = true }
                    return idle
                }
                // Commands waiting: only look at the sockets. Otherwise wait for them or a wake.
                try loop.poller.poll(timeoutMilliseconds: idle ? loop.pollTimeoutMilliseconds : 0)
                let (commands, stopping, written) = queue.withLock { q in
                    q.sleeping = false
                    defer { q.commands.removeAll(keepingCapacity: true) }
                    return (q.commands, q.stopping, q.wakesWritten)
                }
                // Read back only bytes known to be written. One claimed but not yet landed
                // is read on a later turn: the poll returns when it lands, so no wake-up is
                // lost and the loop never spins on a stale byte.
                if wakesRead < written { wakesRead += wakePipe.drain() }
                if stopping {
                    unhandled = loop.handleBeforeStop(commands)
                    break
                }
                if try !loop.handle(commands) { break }
            }
        } catch {
            logger.error("\(name) failed: \(error)")
        }
        loop.finish()
        onEnd(unhandled + takeAll())
    }

    /// Marks the queue stopped (no more commands are accepted) and returns what is still in it.
    private func takeAll() -> [Loop.Command] {
        queue.withLock { q in
            q.stopping = true
            defer { q.commands.removeAll() }
            return q.commands
        }
    }
}

/// One client's I/O work, run by an `IOThread`: made on the I/O thread, used only
/// there. Not `Sendable` on purpose.
protocol IOThreadLoop: AnyObject, SendableMetatype {
    associatedtype Command: Sendable
    /// What the thread waits on each turn; it must include the setup's `wakeFD`. May
    /// change between turns (a reconnect makes a new socket).
    var poller: Poller { get }
    /// The longest wait of one turn (-1: until a socket or the wake pipe is readable).
    var pollTimeoutMilliseconds: Int { get }
    /// One turn: the commands queued since the last one, in order, then the loop's own
    /// work (read sockets, timers). Returns false to end the thread (for good).
    func handle(_ commands: [Command]) throws -> Bool
    /// The end (a stop, `handle` returned false or threw): answer every caller the loop
    /// holds (usually with `MetroClientError.closed`) and close the sockets. Commands
    /// never handled go to the `IOThread`'s `onEnd`.
    func finish()
    /// The commands queued before the stop request, just before `finish()`: a loop
    /// that still owes the peer some of them (a consumer's last ACKs, which would
    /// otherwise come back as redeliveries) sends them here. Returns those it did
    /// not carry out; they go to `onEnd`. The default carries out none.
    func handleBeforeStop(_ commands: [Command]) -> [Command]
}

extension IOThreadLoop {
    func handleBeforeStop(_ commands: [Command]) -> [Command] { commands }
}
