import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A thread that runs one body to its end, and that async code can await without
/// blocking a thread of Swift's cooperative pool: the bridge between a blocking poll
/// loop (which must own its sockets on one thread, see `Context`) and async code
/// such as a swift-service-lifecycle `Service.run()`.
///
/// ```swift
/// // A Service whose loop runs on its own thread:
/// func run() async {
///     await withTaskCancellationOrGracefulShutdownHandler {
///         await DedicatedThread.run(name: "metro-broker-loop") { engine.run() }
///     } onCancelOrGracefulShutdown: { engine.stop() }
/// }
/// ```
///
/// Threading: `start()`, `join()` and `hasEnded` from any thread or task. `join()`
/// suspends on a continuation that the thread resumes as its last act.
package final class DedicatedThread: Sendable {
    private struct State {
        var body: (@Sendable () -> Void)?
        var started = false
        var ended = false
        var joiners: [CheckedContinuation<Void, Never>] = []
    }

    package let name: String
    private let stackSize: Int?
    private let state: Mutex<State>

    /// Prepares the thread; nothing runs until `start()`.
    package init(name: String, stackSize: Int? = nil, body: @escaping @Sendable () -> Void) {
        self.name = name
        self.stackSize = stackSize
        state = Mutex(State(body: body))
    }

    /// Starts the thread; later calls do nothing. Never blocks.
    package func start() {
        guard
            let body = state.withLock({ s -> (@Sendable () -> Void)? in
                guard !s.started else { return nil }
                s.started = true
                defer { s.body = nil }
                return s.body
            })
        else { return }
        let thread = Thread { [self] in
            Self.nameCurrentThread(name)
            body()
            let joiners = state.withLock { s in
                s.ended = true
                defer { s.joiners = [] }
                return s.joiners
            }
            for j in joiners { j.resume() }
        }
        thread.name = name
        if let stackSize { thread.stackSize = stackSize }
        thread.start()
    }

    /// Names the OS thread (`top -H`, /proc/<pid>/task/<tid>/comm, debuggers): Foundation's
    /// `Thread.name` does not reach the kernel on Linux, and Glibc's `pthread_setname_np`
    /// is not visible to Swift (it needs `_GNU_SOURCE`), so this writes the thread's
    /// `comm` file, which is what that function does. Linux keeps 15 bytes.
    private static func nameCurrentThread(_ name: String) {
        #if canImport(Glibc)
            let fd = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
            guard fd >= 0 else { return }
            let bytes = Array(name.utf8.prefix(15))
            _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            close(fd)
        #endif
    }

    /// Whether the body has returned.
    package var hasEnded: Bool { state.withLock { $0.ended } }

    /// Suspends until the body has returned (at once if it has). Does not start the
    /// thread: a thread never started is never joined.
    package func join() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let ended = state.withLock { s in
                if !s.ended { s.joiners.append(c) }
                return s.ended
            }
            if ended { c.resume() }
        }
    }

    /// Runs `body` on a new thread and suspends until it returns.
    package static func run(name: String, stackSize: Int? = nil, _ body: @escaping @Sendable () -> Void) async {
        let thread = DedicatedThread(name: name, stackSize: stackSize, body: body)
        thread.start()
        await thread.join()
    }
}
