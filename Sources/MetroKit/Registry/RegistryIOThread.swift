import Foundation
import Logging
import MetroProtocol
import Synchronization
import ZeroMQ

/// The registry client's dedicated I/O thread: it owns the REQ socket (through
/// `LazyPirateRequester`) and the SUB socket on the broker's events endpoint, and
/// nothing else touches them. Async callers hand it jobs through a locked queue and a
/// wake-up pipe that its poll loop watches next to the SUB socket; each job's
/// continuation is resumed on this thread. Nothing here blocks Swift's cooperative pool.
final class RegistryIOThread: Sendable {
    typealias Completion = @Sendable (Result<RegistryReply, RegistryClientError>) -> Void

    private struct Job {
        let request: RegistryRequest
        let completion: Completion
    }

    private struct Shared {
        var jobs: [Job] = []
        var stopping = false
        var watchers: [UUID: AsyncStream<MembershipEvent>.Continuation] = [:]
        var finished = false
        var finishWaiters: [CheckedContinuation<Void, Never>] = []
    }

    private let shared = Mutex(Shared())
    /// Wakes the poll loop; open for this object's whole life, so a late wake is harmless.
    private let wakePipe = WakePipe()

    init(context: Context, configuration: RegistryClient.Configuration, cache: LookupCache, logger: Logger) {
        let thread = Thread { [self] in
            self.run(context: context, configuration: configuration, cache: cache, logger: logger)
            let waiters = self.shared.withLock { s in
                s.finished = true
                defer { s.finishWaiters = [] }
                return s.finishWaiters
            }
            for w in waiters { w.resume() }
        }
        thread.name = "metro-regclient"
        thread.start()
    }

    /// Queues `request`; `completion` runs on the I/O thread. Safe from any thread.
    func submit(_ request: RegistryRequest, completion: @escaping Completion) {
        let accepted = shared.withLock { s in
            guard !s.stopping else { return false }
            s.jobs.append(Job(request: request, completion: completion))
            wake(s)
            return true
        }
        if !accepted {
            completion(.failure(RegistryClientError(.closed, command: request.command, message: "the client is closed")))
        }
    }

    /// A stream of membership events; ends when the client closes.
    func events() -> AsyncStream<MembershipEvent> {
        let (stream, continuation) = AsyncStream<MembershipEvent>.makeStream(bufferingPolicy: .bufferingNewest(1024))
        let id = UUID()
        let added = shared.withLock { s in
            guard !s.stopping else { return false }
            s.watchers[id] = continuation
            return true
        }
        if !added { continuation.finish() }
        continuation.onTermination = { [weak self] _ in
            _ = self?.shared.withLock { $0.watchers.removeValue(forKey: id) }
        }
        return stream
    }

    /// Asks the thread to stop after the job in progress; queued jobs fail with `.closed`.
    /// Never blocks; safe from any thread.
    func stop() {
        shared.withLock { s in
            s.stopping = true
            wake(s)
        }
    }

    /// Stops the thread and waits (without blocking a thread) until it has ended and
    /// closed its sockets.
    func stopAndWait() async {
        stop()
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let done = shared.withLock { s in
                if !s.finished { s.finishWaiters.append(c) }
                return s.finished
            }
            if done { c.resume() }
        }
    }

    /// Wakes the I/O thread; called with the lock held, right after changing `s`.
    private func wake(_ s: borrowing Shared) {
        wakePipe.wake()
    }

    private func run(context: Context, configuration: RegistryClient.Configuration, cache: LookupCache, logger: Logger) {
        let requester = LazyPirateRequester(context: context, configuration: configuration, logger: logger)
        let poller = Poller()
        poller.add(fileDescriptor: wakePipe.readFD)
        var subscriber: Socket?
        if let events = configuration.eventsEndpoint {
            do {
                let sub = try context.socket(.sub)
                try sub.set(.linger(milliseconds: 0))
                try sub.subscribe(Topic.registryPrefix)
                try sub.connect(events)
                poller.add(sub)
                subscriber = sub
            } catch {
                logger.error("cannot follow membership events", metadata: ["endpoint": "\(events)", "error": "\(error)"])
            }
        }
        defer {
            requester.reset()
            subscriber?.close()
            let (jobs, watchers) = shared.withLock { s in
                defer { s.jobs = []; s.watchers = [:] }
                return (s.jobs, s.watchers)
            }
            for job in jobs {
                job.completion(.failure(RegistryClientError(.closed, command: job.request.command, message: "the client is closed")))
            }
            for w in watchers.values { w.finish() }
        }
        while true {
            do {
                try poller.poll(timeoutMilliseconds: -1)
            } catch {
                logger.error("registry client poll failed", metadata: ["error": "\(error)"])
                return
            }
            wakePipe.drain()
            if let sub = subscriber { drainEvents(sub, cache: cache) }
            while true {
                let (job, stopping) = shared.withLock { s in
                    (s.stopping || s.jobs.isEmpty ? nil : s.jobs.removeFirst(), s.stopping)
                }
                if stopping { return }
                guard let job else { break }
                job.completion(requester.request(job.request) { self.shared.withLock { $0.stopping } })
            }
        }
    }

    private func drainEvents(_ sub: Socket, cache: LookupCache) {
        while let frames = try? sub.receiveMultipart(dontWait: true) {
            guard let event = MembershipEvent.decode(frames) else { continue }
            cache.invalidate(event.service)
            let watchers = shared.withLock { Array($0.watchers.values) }
            for w in watchers { w.yield(event) }
        }
    }
}
