import Foundation
import Logging
import MetroProtocol
import ZeroMQ

/// The registry client's I/O loop, run by its `IOThread`: owns the REQ socket
/// (through `LazyPirateRequester`) and the SUB socket on the broker's events
/// endpoint. Requests are served one at a time, in order (REQ is lockstep); each
/// completion runs on the I/O thread. Made and used on the I/O thread only.
final class RegistryClientLoop: IOThreadLoop {
    typealias Completion = @Sendable (Result<RegistryReply, MetroClientError>) -> Void

    enum Command: Sendable {
        case request(RegistryRequest, Completion)
        case watch(UUID, AsyncStream<MembershipEvent>.Continuation)
        case unwatch(UUID)
    }

    let poller = Poller()
    /// Nothing to do on a timer: wait for a request or an event.
    let pollTimeoutMilliseconds = -1
    private let requester: LazyPirateRequester
    private let subscriber: Socket?
    private let cache: LookupCache
    private let isStopping: @Sendable () -> Bool
    private var watchers: [UUID: AsyncStream<MembershipEvent>.Continuation] = [:]

    /// I/O thread: prepares the requester (it opens its REQ on the first request) and
    /// subscribes to membership events when the configuration names the broker.
    init(
        setup: IOThread<RegistryClientLoop>.Setup, configuration: RegistryClient.Configuration, cache: LookupCache,
        logger: Logger
    ) {
        requester = LazyPirateRequester(context: setup.context, configuration: configuration, logger: logger)
        isStopping = setup.isStopping
        self.cache = cache
        poller.add(fileDescriptor: setup.wakeFD)
        var sub: Socket?
        if let events = configuration.eventsEndpoint {
            do {
                let s = try setup.context.socket(.sub)
                try s.set(.linger(milliseconds: 0))
                try s.subscribe(Topic.registryPrefix)
                try s.connect(events)
                poller.add(s)
                sub = s
            } catch {
                logger.error(
                    "cannot follow membership events", metadata: ["endpoint": "\(events)", "error": "\(error)"])
            }
        }
        subscriber = sub
    }

    func handle(_ commands: [Command]) throws -> Bool {
        drainEvents()
        for command in commands {
            switch command {
            case .request(let request, let completion):
                // A stop asked while earlier requests ran: the rest fail at once.
                if isStopping() {
                    completion(.failure(.closed("registry \(request.command.rawValue)")))
                } else {
                    completion(requester.request(request, isStopping: isStopping))
                }
            case .watch(let id, let continuation): watchers[id] = continuation
            case .unwatch(let id): watchers[id] = nil
            }
        }
        return true
    }

    /// Closes the sockets and ends the membership streams.
    func finish() {
        requester.reset()
        subscriber?.close()
        for w in watchers.values { w.finish() }
        watchers = [:]
    }

    /// Answers commands that never reached the loop (the `IOThread`'s `onEnd`).
    static func abandon(_ commands: [Command]) {
        for command in commands {
            switch command {
            case .request(let request, let completion):
                completion(.failure(.closed("registry \(request.command.rawValue)")))
            case .watch(_, let continuation): continuation.finish()
            case .unwatch: continue
            }
        }
    }

    private func drainEvents() {
        guard let sub = subscriber else { return }
        while let frames = try? sub.receiveMultipart(dontWait: true) {
            guard let event = MembershipEvent.decode(frames) else { continue }
            cache.invalidate(event.service)
            for w in watchers.values { w.yield(event) }
        }
    }
}
