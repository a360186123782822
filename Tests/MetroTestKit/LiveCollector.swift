package import MetroKit
package import MetroProtocol

/// A live subscriber whose events a test reads back: subscribed to `prefixes`,
/// live (its hello seen, §4.4.2) before `init` returns, collecting from then on.
package final class LiveCollector: Sendable {
    package let subscriber: Subscriber
    /// The head seq when the subscription became live: later events all arrive.
    package let liveFrom: UInt64
    private let received = Locked([LiveEvent]())
    private let task: Task<Void, Never>

    package init(events: String, prefixes: [String]) async throws {
        subscriber = try Subscriber(.init(events: events, prefixes: prefixes))
        liveFrom = try await subscriber.waitUntilLive()
        let stream = subscriber.events
        let received = self.received
        task = Task { for await e in stream { received.withLock { $0.append(e) } } }
    }

    /// Everything received so far, in order.
    package var events: [LiveEvent] { received.withLock { $0 } }

    /// Stops collecting and closes the subscriber.
    package func close() async {
        task.cancel()
        await subscriber.close()
    }
}
