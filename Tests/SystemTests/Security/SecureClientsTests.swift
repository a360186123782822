import Foundation
import MetroKit
import MetroProtocol
import MetroTestKit
import Testing
import ZeroMQ

#if canImport(Glibc)
    import Glibc
#endif

/// MetroKit's clients with `curve` options against a broker and a registry with
/// CURVE on (protocol.md §7.5): acknowledged publish, live fan-out, a consumer
/// group, registry requests and membership events all work end to end, and a
/// client without keys gets nowhere.
@Suite struct SecureClientsTests {
    @Test func publishSubscribeAndAConsumerGroupOverCurve() async throws {
        let fixture = try SecureFixture(clients: ["app"])
        let broker = try await fixture.startBroker()
        let credentials = fixture.credentials("app")

        var subscriberOptions = Subscriber.Options(events: broker.events, prefixes: ["sec."])
        subscriberOptions.curve = credentials
        let subscriber = try Subscriber(subscriberOptions)
        var publisherOptions = Publisher.Options(ingest: broker.ingest)
        publisherOptions.curve = credentials
        publisherOptions.ackTimeout = .seconds(30)
        let publisher = try Publisher(publisherOptions)
        var consumerOptions = Consumer.Options(
            consume: broker.consume, group: "secure", member: "m1", config: .init(prefixes: ["sec."]))
        consumerOptions.curve = credentials
        try await closing(publisher, subscriber) {
            _ = try await subscriber.waitUntilLive(timeout: .seconds(30))
            var seqs: [UInt64] = []
            for i in 0..<3 {
                seqs.append(
                    try await publisher.publish(topic: "sec.order", payload: bytes("o\(i)"), eventID: bytes("e\(i)")))
            }
            #expect(seqs == [1, 2, 3])

            var live: [UInt64] = []
            for await event in subscriber.events {
                live.append(event.seq)
                if live.count == 3 { break }
            }
            #expect(live == [1, 2, 3])

            let consumer = try Consumer(consumerOptions)
            var delivered: [UInt64] = []
            for await d in consumer.deliveries {
                delivered.append(d.seq)
                consumer.ack(d)
                if delivered.count == 3 { break }
            }
            await consumer.close()
            #expect(delivered == [1, 2, 3])

            try await eventually("the group drained, seen in the broker's metrics") {
                let text = try await scrapeMetrics(broker.endpoints["metrics"]!)
                return metricSample("metro_group_pending{group=\"secure\"}", in: text) == 0
                    && metricSample("metro_broker_acked_total", in: text) == 3
            }
            let text = try await scrapeMetrics(broker.endpoints["metrics"]!)
            // Publisher (DEALER), subscriber (SUB and its replay DEALER, if any), consumer (DEALER).
            #expect((metricSample("metro_auth_accepted_total", in: text) ?? 0) >= 3)
            #expect(metricSample("metro_auth_refused_total{reason=\"unknown_key\"}", in: text) == 0)
        }

        // Without keys the same publish never gets its ACK.
        var plainOptions = Publisher.Options(ingest: broker.ingest)
        plainOptions.giveUpAfter = .seconds(2)
        let plain = try Publisher(plainOptions)
        try await closing(plain) {
            await #expect(throws: MetroClientError.self) {
                _ = try await plain.publish(topic: "sec.order", payload: bytes("x"), eventID: bytes("plain"))
            }
        }
        #expect(await broker.stop() == 0)
    }

    /// A MetroKit consumer whose identity loses its consume permission in a reload
    /// is expelled (protocol.md §7.7) and ends its deliveries, saying why, instead
    /// of joining again to be refused.
    @Test(.timeLimit(.minutes(1))) func aConsumerExpelledByAReloadEndsItsDeliveries() async throws {
        let fixture = try SecureFixture(clients: ["app"])
        fixture.permissions["app"] = "{publish: [\"sec.\"], consume: [\"sec.\"]}"
        try fixture.writeAllowList()
        let broker = try await fixture.startBroker()
        let credentials = fixture.credentials("app")
        var publisherOptions = Publisher.Options(ingest: broker.ingest)
        publisherOptions.curve = credentials
        let publisher = try Publisher(publisherOptions)
        var consumerOptions = Consumer.Options(
            consume: broker.consume, group: "expel", member: "m1", config: .init(prefixes: ["sec."]))
        consumerOptions.curve = credentials
        try await closing(publisher) {
            _ = try await publisher.publish(topic: "sec.order", payload: bytes("o"), eventID: bytes("e1"))
            let consumer = try Consumer(consumerOptions)
            var deliveries = consumer.deliveries.makeAsyncIterator()
            let first = try #require(await deliveries.next())
            #expect(first.seq == 1)
            consumer.ack(first)
            fixture.permissions["app"] = "{publish: [\"sec.\"]}"
            try fixture.writeAllowList()
            broker.process.kill(SIGHUP)
            #expect(await deliveries.next() == nil, "the deliveries end once the member is expelled")
            await consumer.close()
        }
        // The broker logs the withdrawal after it sent the ERROR 110 the client saw: wait for the line.
        try await eventually("the withdrawal logged") {
            broker.process.stderrText.contains("a reload withdrew permissions in use")
        }
        #expect(await broker.stop() == 0)
    }

    /// A key the broker's allow-list does not hold: libzmq tells the client only
    /// through its socket monitor (and does not retry), so MetroKit's clients watch
    /// for the refusal (`HandshakeWatch`) and say so at once: a `Publisher` fails
    /// its publishes with `.rejected` (not after `giveUpAfter`, 60 s, with a bare
    /// timeout), a `Subscriber`'s `waitUntilLive` throws `.rejected` (not a
    /// timeout), and a `Consumer` ends its deliveries (not a reconnect every three
    /// heartbeats).
    @Test(.timeLimit(.minutes(1))) func aClientWhoseKeyIsRefusedFailsAtOnceSayingWhy() async throws {
        let fixture = try SecureFixture(clients: ["app"])
        try fixture.writeAllowList()
        let broker = try await fixture.startBroker()
        let stranger = CurveCredentials(keys: try CurveKeyPair.generate(), serverPublicKey: fixture.broker.publicKey)
        var publisherOptions = Publisher.Options(ingest: broker.ingest)
        publisherOptions.curve = stranger
        let publisher = try Publisher(publisherOptions)
        var subscriberOptions = Subscriber.Options(events: broker.events, prefixes: ["sec."])
        subscriberOptions.curve = stranger
        let subscriber = try Subscriber(subscriberOptions)
        var consumerOptions = Consumer.Options(
            consume: broker.consume, group: "strangers", member: "m1", config: .init(prefixes: ["sec."]))
        consumerOptions.curve = stranger
        let consumer = try Consumer(consumerOptions)
        let started = ContinuousClock.now
        try await closing(publisher, subscriber) {
            do {
                _ = try await publisher.publish(topic: "sec.order", payload: bytes("x"), eventID: bytes("s1"))
                Issue.record("a refused key got an ACK")
            } catch let e as MetroClientError {
                #expect(e.code == .rejected && e.message.contains("allow-list"), "\(e)")
            }
            // Later publishes fail at once too.
            await #expect(throws: MetroClientError.self) {
                _ = try await publisher.publish(topic: "sec.order", payload: bytes("y"), eventID: bytes("s2"))
            }
            do {
                _ = try await subscriber.waitUntilLive(timeout: .seconds(30))
                Issue.record("a refused key became live")
            } catch let e as MetroClientError {
                #expect(e.code == .rejected && e.message.contains("allow-list"), "\(e)")
            }
            for await _ in consumer.deliveries { Issue.record("a refused key got a delivery") }
            await consumer.close()
        }
        #expect(ContinuousClock.now - started < .seconds(10))
        #expect(await broker.stop() == 0)
    }

    /// A prefix the identity may not subscribe to: `waitUntilLive` throws `.rejected`
    /// naming it (the broker's denial notice, protocol.md §4.4.5), `deniedPrefixes`
    /// holds it, and the permitted prefix is live all the same.
    @Test func aRefusedPrefixMakesWaitUntilLiveThrowAndTheOthersStayLive() async throws {
        let fixture = try SecureFixture(clients: ["app"])
        fixture.permissions["app"] = "{publish: [\"sec.\", \"video.\"], subscribe: [\"sec.\"]}"
        try fixture.writeAllowList()
        let broker = try await fixture.startBroker()
        var subscriberOptions = Subscriber.Options(events: broker.events, prefixes: ["video.", "sec."])
        subscriberOptions.curve = fixture.credentials("app")
        let subscriber = try Subscriber(subscriberOptions)
        var publisherOptions = Publisher.Options(ingest: broker.ingest)
        publisherOptions.curve = fixture.credentials("app")
        let publisher = try Publisher(publisherOptions)
        try await closing(publisher, subscriber) {
            var events = subscriber.events.makeAsyncIterator()
            do {
                _ = try await subscriber.waitUntilLive()
                Issue.record("waitUntilLive returned although video. was refused")
            } catch let e as MetroClientError {
                #expect(e.code == .rejected && e.message.contains("'video.'"), "\(e)")
            }
            #expect(subscriber.deniedPrefixes == ["video."])
            _ = try await publisher.publish(topic: "video.x", payload: bytes("v"))
            _ = try await publisher.publish(topic: "sec.x", payload: bytes("s"))
            #expect(await events.next()?.topic == "sec.x", "video.x never came; sec.x did")
        }
        #expect(await broker.stop() == 0)
    }

    @Test func theRegistryAndItsMembershipEventsOverCurve() async throws {
        let fixture = try SecureFixture(clients: ["app", "registry"])
        let broker = try await fixture.startBroker()
        let registry = try await RegistryUnderTest(
            broker: broker.publish,
            extra: [
                "--curve-secret-key", fixture.secretKeyPath("registry"), "--allow-list", fixture.allowListPath,
                "--broker-public-key", fixture.publicKeyPath("broker"),
            ])
        let registryKey = try #require(registry.ready["curvePublicKey"])
        #expect(registryKey == fixture.clients["registry"]?.publicKey)

        var configuration = RegistryClient.Configuration(
            endpoints: [registry.endpoint], eventsEndpoint: broker.events)
        configuration.curve = CurveCredentials(keys: fixture.clients["app"]!, serverPublicKey: registryKey)
        configuration.eventsCurve = fixture.credentials("app")
        let client = try RegistryClient(configuration: configuration)
        try await closing(client) {
            // Events flow: the registry's PUB got through the broker's ZAP as "registry".
            var events = try await RegistrySystemTests.Membership.waitForEvents(client, writer: client)
            try await client.register(RegistrySystemTests.Membership.registration("s-1", service: "secure"))
            #expect(try await client.lookup("secure").map(\.instance) == ["s-1"])
            while let event = await events.next() {
                if event.service == "secure" {
                    #expect(event.kind == .registered && event.instance == "s-1")
                    break
                }
            }
        }

        // A client without keys is never answered: Lazy Pirate gives up.
        let plain = try RegistryClient(
            configuration: .init(endpoints: [registry.endpoint], requestTimeout: .milliseconds(500), attempts: 2))
        try await closing(plain) {
            await #expect { _ = try await plain.lookup("secure") } throws: {
                ($0 as? MetroClientError)?.code == .unreachable
            }
        }

        // A key the registry's allow-list does not hold is refused, and said so at
        // once (`HandshakeWatch`), not after the whole retry budget (30 s here).
        var strangerConfiguration = RegistryClient.Configuration(
            endpoints: [registry.endpoint], requestTimeout: .seconds(10), attempts: 3)
        strangerConfiguration.curve = CurveCredentials(keys: try CurveKeyPair.generate(), serverPublicKey: registryKey)
        let stranger = try RegistryClient(configuration: strangerConfiguration)
        let asked = ContinuousClock.now
        try await closing(stranger) {
            await #expect { _ = try await stranger.lookup("secure") } throws: {
                let e = $0 as? MetroClientError
                return e?.code == .rejected && e?.message.contains("allow-list") == true
            }
        }
        #expect(ContinuousClock.now - asked < .seconds(10))
        registry.process.kill(SIGTERM)
        #expect(await registry.process.waitForExit() == 0)
        #expect(await broker.stop() == 0)
    }
}

extension SecureClientsTests {
    /// `RpcClient.Options.curve` against a CURVE rpc server written from the
    /// protocol alone (a pyzmq ROUTER); Metro's own CURVE rpc server is in
    /// `SecureUpTests` and `SecureRpcServerTests`.
    @Test(.enabled("needs python3 with pyzmq") { await DocumentedExample.pyzmqAvailable })
    func anRpcClientCallsACurveServer() async throws {
        let serverKeys = try CurveKeyPair.generate()
        let server = try await PyRpcServer(holdMilliseconds: 0, curveSecretKey: serverKeys.secretKey)
        var options = RpcClient.Options()
        options.curve = CurveCredentials(keys: try CurveKeyPair.generate(), serverPublicKey: serverKeys.publicKey)
        let client = try RpcClient(endpoints: [server.endpoint], service: "echo", options: options)
        try await closing(client) {
            let reply = try await client.call(method: "echo.say", body: bytes("over curve"), deadline: .seconds(20))
            #expect(reply == bytes("over curve"))
        }
        // The same call without keys never gets through the handshake.
        var plainOptions = RpcClient.Options()
        plainOptions.maxAttempts = 1
        let plain = try RpcClient(endpoints: [server.endpoint], service: "echo", options: plainOptions)
        try await closing(plain) {
            await #expect(throws: MetroClientError.self) {
                _ = try await plain.call(method: "echo.say", body: bytes("plain"), deadline: .seconds(1))
            }
        }
        await server.crash()
    }
}
