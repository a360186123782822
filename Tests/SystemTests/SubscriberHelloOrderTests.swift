import MetroKit
import MetroProtocol
import MetroTestKit
import Testing
import ZeroMQ

/// The order in which MetroKit's `Subscriber` sends its subscriptions, seen by a
/// bare XPUB: the hello last (protocol.md §4.4.2). libzmq sends the
/// subscriptions made before `connect` in byte order when the connection attaches,
/// and `$metro.hello.` sorts before every prefix that starts with a letter: a
/// subscriber that subscribed first and connected after sent its hello ahead of
/// its prefixes, so the hello proved nothing about them (docs/performance.md,
/// "Findings about libzmq").
@Suite struct SubscriberHelloOrderTests {
    @Test func theHelloComesAfterEveryPrefixInTheOrderMade() async throws {
        let xpub = try testContext.socket(.xpub)
        defer { xpub.close() }
        try xpub.set(.receiveTimeout(milliseconds: 10_000))
        let endpoint = try xpub.bindResolved("tcp://127.0.0.1:*")
        let prefixes = ["video.", "orders.", "a.", "0."]
        let sub = try Subscriber(.init(events: endpoint, prefixes: prefixes))
        try await closing(sub) {
            _ = sub.events  // starts the I/O thread
            var seen: [String] = []
            while !(seen.last ?? "").hasPrefix(Hello.prefix) {
                guard let frames = try await xpub.receiveOffPool() else {
                    Issue.record("no hello subscription; got \(seen)")
                    return
                }
                #expect(frames.count == 1 && frames[0].first == 1, "a subscription message")
                seen.append(String(decoding: frames[0].dropFirst(), as: UTF8.self))
            }
            #expect(Array(seen.dropLast()) == [DeniedNotice.prefix] + prefixes + [Topic.heartbeat])
        }
    }
}
