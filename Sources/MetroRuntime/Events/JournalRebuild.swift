import Foundation
import Logging
import MetroKit
import MetroProtocol
import Synchronization
import ZeroMQ

/// `ServiceRuntime.Configuration.rebuildFromJournal`: before an instance serves,
/// each event handler takes every event of its topics from the start of the
/// journal, through the same `DeliveryProcessor` as live deliveries and with
/// the inbox keyed by the handler's own group, so that the group's later
/// deliveries of the same events are no-ops.
///
/// The events come through a consumer group of its own,
/// `<group>-rebuild-<8 hex>` (`start: earliest`), created for this run: the
/// service's group keeps its position, and the broker has no REPLAY for groups.
/// The rebuild is done when that group has taken the whole journal (`lag` 0) and
/// every delivery is finished (`pending` 0), as the broker's STATS says; it
/// polls STATS every `pollInterval`. The group stays at the broker afterwards
/// with no member (protocol.md has no command to delete a group); it reads
/// nothing while it has no member.
struct JournalRebuild {
    let registration: EventHandlerRegistration
    let store: ServiceStore
    let faults: FaultPoints
    let configuration: ServiceRuntime.Configuration
    let logger: Logger
    var pollInterval: Duration = .milliseconds(50)

    /// Runs until caught up; returns the rebuild group's name.
    func run() async throws -> String {
        let suffix = String(UInt32.random(in: .min ... .max), radix: 16)
        let group = "\(registration.group.prefix(40))-rebuild-\(suffix)"
        var options = Consumer.Options(
            consume: configuration.brokerConsume, group: group, member: configuration.instance,
            config: .init(
                prefixes: registration.topics, start: .earliest,
                ackTimeoutMs: configuration.ackTimeout.map { Int($0.inMilliseconds) },
                maxDeliveries: configuration.maxDeliveries))
        options.window = UInt32(registration.concurrency)
        options.curve = configuration.security?.broker
        var logger = self.logger
        logger[metadataKey: "group"] = "\(group)"
        let consumer = try Consumer(options, logger: logger)
        let processor = DeliveryProcessor(
            registration: registration, consumer: consumer, store: store, faults: faults, logger: logger,
            checksEveryDelivery: true)
        let subscription = EventSubscription(registration: registration, consumer: consumer, processor: processor)
        logger.info("rebuilding from the start of the journal", metadata: ["topics": "\(registration.topics)"])
        let failure: (any Error)? = await withTaskGroup(of: Void.self) { tasks in
            tasks.addTask { await subscription.run() }
            var failure: (any Error)?
            do { try await waitUntilCaughtUp(group: group) } catch { failure = error }
            subscription.stop()
            await tasks.waitForAll()
            return failure
        }
        await consumer.close()
        if let failure { throw failure }
        logger.info("rebuild caught up with the journal")
        return group
    }

    /// Polls the broker's STATS until `group` exists with lag 0 and nothing pending.
    private func waitUntilCaughtUp(group: String) async throws {
        let admin = BrokerAdminClient(consumeEndpoint: configuration.brokerConsume)
        while true {
            try Task.checkCancellation()
            let stats = Mutex<Result<BrokerStats, any Error>?>(nil)
            await DedicatedThread.run(name: "metro-rebuild-stats") {
                stats.withLock { $0 = Result { try admin.stats() } }
            }
            if let g = try stats.withLock({ $0! }).get().groups[group], g.members > 0, g.lag == 0, g.pending == 0 {
                return
            }
            try await Task.sleep(for: pollInterval)
        }
    }
}
