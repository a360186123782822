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
    }

    /// The streams of `membershipEvents()`. Shared with the callers, not a command: a
    /// stream must see every event read after `membershipEvents()` returned, and a
    /// command would only reach the loop on a later turn.
    struct Watchers: Sendable {
        var byID: [UUID: AsyncStream<MembershipEvent>.Continuation] = [:]
        var ended = false
    }

    let poller = Poller()
    /// Nothing to do on a timer: wait for a request or an event.
    let pollTimeoutMilliseconds = -1
    private let requester: LazyPirateRequester
    private let subscriber: Socket?
    private let cache: LookupCache
    private let isStopping: @Sendable () -> Bool
    private let watchers: Mailbox<Watchers>

    /// I/O thread: prepares the requester (it opens its REQ on the first request) and
    /// subscribes to membership events when the configuration names the broker.
    init(
        setup: IOThread<RegistryClientLoop>.Setup, configuration: RegistryClient.Configuration, cache: LookupCache,
        watchers: Mailbox<Watchers>, logger: Logger
    ) {
        self.watchers = watchers
        requester = LazyPirateRequester(context: setup.context, configuration: configuration, logger: logger)
        isStopping = setup.isStopping
        self.cache = cache
        poller.add(fileDescriptor: setup.wakeFD)
        var sub: Socket?
        if let events = configuration.eventsEndpoint {
            do {
                let s = try setup.context.socket(.sub)
                if let curve = configuration.eventsCurve { try s.makeCurveClient(curve) }
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
            }
        }
        return true
    }

    /// Closes the sockets (the client's `onEnd` ends the membership streams).
    func finish() {
        requester.reset()
        subscriber?.close()
    }

    /// The `IOThread`'s `onEnd`: answers requests that never reached the loop and
    /// ends every membership stream (and any asked for later).
    static func end(unhandled commands: [Command], watchers: Mailbox<Watchers>) {
        for case .request(let request, let completion) in commands {
            completion(.failure(.closed("registry \(request.command.rawValue)")))
        }
        let streams = watchers.withLock { w in
            w.ended = true
            defer { w.byID = [:] }
            return Array(w.byID.values)
        }
        for s in streams { s.finish() }
    }

    private func drainEvents() {
        guard let sub = subscriber else { return }
        while let frames = try? sub.receiveMultipart(dontWait: true) {
            guard let event = MembershipEvent.decode(frames) else { continue }
            cache.invalidate(event.service)
            for w in watchers.withLock({ Array($0.byID.values) }) { w.yield(event) }
        }
    }
}
