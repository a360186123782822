import Foundation
import MetroKit
import MetroProtocol
import MetroTestKit
import Synchronization
import Testing

/// The registry's membership events travel through a real broker: registry PUB →
/// broker publish (XSUB) → journal → events (XPUB) → a subscriber (protocol.md §5.10).
@Suite(.serialized) struct RegistryThroughBrokerTests {
    @Test func membershipEventsReachSubscribersThroughTheBroker() async throws {
        let broker = try await BrokerHarness()
        let registry = try await RegistryUnderTest(broker: broker.publish)
        let subscriber = try Subscriber(.init(events: broker.events, prefixes: [Topic.registryPrefix]))
        try await closing(subscriber) {
            _ = try await subscriber.waitUntilLive()

            let client = try RawRegistryClient(context: testContext, endpoint: registry.endpoint)
            defer { client.close() }
            let registration = Registration(
                service: "profiles", instance: "profiles-1", epoch: 1, endpoints: ["tcp://127.0.0.1:9999"],
                metadata: ["version": "1.0"], ttlMilliseconds: 5000)

            // Collect membership events off the subscriber's stream.
            let received = Mutex<[(seq: UInt64, event: MembershipEvent)]>([])
            let collector = Task {
                for await event in subscriber.events {
                    if let m = MembershipEvent.decode(event.frames) { received.withLock { $0.append((event.seq, m)) } }
                }
            }
            defer { collector.cancel() }

            // The registry's PUB connects to the broker asynchronously; register again
            // (same epoch: a harmless refresh that publishes again) until the event arrives.
            try await eventually("a $registry.registered event through the broker", timeout: .seconds(20)) {
                !received.withLock { $0.isEmpty }
            } while: {
                _ = try await client.request(.register(registration))
            }
            let (seq, first) = try #require(received.withLock { $0.first })
            #expect(seq > 0, "the broker stamped the membership event with a seq")
            #expect(first.kind == .registered)
            #expect(first.service == "profiles")
            #expect(first.instance == "profiles-1")

            // The event is in the journal too: the broker counted it as received.
            #expect(try await broker.stats().received >= 1)
        }
    }
}
