import Foundation
import MetroSecurity
import MetroTestKit
import Testing
import ZeroMQ

#if canImport(Glibc)
    import Glibc
#endif

/// A broker with CURVE on (protocol.md §7) against pyzmq clients, as a foreign
/// client would meet it: an allowed key is served, an unknown key and a plain
/// client never get past the handshake, and SIGHUP brings a new key in.
@Suite(.enabled("needs python3 with pyzmq") { await DocumentedExample.pyzmqAvailable })
struct SecureBrokerTests {
    /// A pyzmq DEALER that sends one PUBLISH to `endpoint` (as a CURVE client when
    /// `secretKeyFile` is given) and prints `ACK <seq>` when a reply comes, or
    /// `silent` once the file `stop` exists (the test creates it when it has seen
    /// the broker refuse the handshake) or after 60 s.
    static func publishAttempt(
        endpoint: String, secretKeyFile: String?, serverKeyFile: String?, stop: String, eventID: String
    ) -> String {
        """
        import zmq, struct, os, time
        ctx = zmq.Context()
        s = ctx.socket(zmq.DEALER)
        s.linger = 0
        secret, server = \(secretKeyFile.map { "'\($0)'" } ?? "None"), \(serverKeyFile.map { "'\($0)'" } ?? "None")
        if secret:
            s.curve_secretkey = open(secret, 'rb').read().strip()
            s.curve_publickey = zmq.curve_public(open(secret, 'rb').read().strip())
            s.curve_serverkey = open(server, 'rb').read().strip()
        s.connect('\(endpoint)')
        s.send_multipart([b'metro/1', b'PUBLISH', b'\(eventID)', b'sec.test', b'{}', b'{}'])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not os.path.exists('\(stop)'):
            if s.poll(100):
                r = s.recv_multipart()
                print(r[1].decode(), struct.unpack('>Q', r[3])[0] if r[1] == b'ACK' else r[2].decode())
                break
        else:
            print('silent')
        """
    }

    /// Runs `publishAttempt` until `refused` holds of the broker's scrape, then
    /// stops it and returns what it printed.
    static func refusedAttempt(
        _ broker: BrokerHarness, secretKeyFile: String?, serverKeyFile: String?, in folder: TemporaryDirectory,
        until refused: @escaping (String) -> Bool
    ) async throws -> String {
        let stop = folder.url.appendingPathComponent("stop-\(UUID().uuidString)").path
        let script = publishAttempt(
            endpoint: broker.ingest, secretKeyFile: secretKeyFile, serverKeyFile: serverKeyFile, stop: stop,
            eventID: UUID().uuidString)
        async let printed = runPython(script)
        do {
            try await eventually("the broker refuses the handshake", timeout: .seconds(30)) {
                refused(try await scrapeMetrics(broker.endpoints["metrics"]!))
            }
        } catch {
            _ = FileManager.default.createFile(atPath: stop, contents: nil)
            _ = try? await printed
            throw error
        }
        _ = FileManager.default.createFile(atPath: stop, contents: nil)
        return try await printed
    }

    static let unknownKeyRefusals = "metro_auth_refused_total{reason=\"unknown_key\"}"

    @Test func theDocumentedExampleOfSection76PublishesAndGetsItsAck() async throws {
        let fixture = try SecureFixture(clients: ["orders"])
        let broker = try await fixture.startBroker()
        #expect(broker.endpoints["curvePublicKey"] == fixture.broker.publicKey)
        let out = try await DocumentedExample.run(
            after: "### 7.6 Example: a pyzmq CURVE client",
            replacing: [
                "tcp://127.0.0.1:7701": broker.ingest, "data/keys/orders.key": fixture.secretKeyPath("orders"),
                "data/keys/broker.pub": fixture.publicKeyPath("broker"),
            ])
        let words = out.split(separator: " ").map(String.init)
        #expect(words.first == "ACK" && words.last?.trimmingCharacters(in: .newlines) == "1", "\(out)")
        let text = try await scrapeMetrics(broker.endpoints["metrics"]!)
        #expect(metricSample("metro_auth_accepted_total", in: text).map { $0 >= 1 } == true)
        #expect(await broker.stop() == 0)
    }

    @Test func anUnknownKeyNeverCompletesTheHandshake() async throws {
        let fixture = try SecureFixture(clients: ["orders"])
        try fixture.makeKeys("stranger")
        let broker = try await fixture.startBroker()
        let out = try await Self.refusedAttempt(
            broker, secretKeyFile: fixture.secretKeyPath("stranger"), serverKeyFile: fixture.publicKeyPath("broker"),
            in: fixture.folder
        ) { (metricSample(Self.unknownKeyRefusals, in: $0) ?? 0) >= 1 }
        #expect(out == "silent\n")
        let text = try await scrapeMetrics(broker.endpoints["metrics"]!)
        #expect(metricSample("metro_broker_received_total", in: text) == 0)
        #expect(metricSample("metro_auth_accepted_total", in: text) == 0)
        #expect(await broker.process.stderrShows("ZAP: handshake refused"), "\(broker.process.stderrText)")
        #expect(await broker.process.stderrShows("unknown_key"))
        #expect(broker.process.stderrText.contains(try KeyFiles.loadPublic(fixture.publicKeyPath("stranger"))))
        #expect(await broker.stop() == 0)
    }

    /// A plain ZMTP client fails at the mechanism, before ZAP: the broker's ingest
    /// socket sees the connection end (its disconnect counter), and nothing is taken.
    @Test func aPlainClientIsRefused() async throws {
        let fixture = try SecureFixture(clients: ["orders"])
        let broker = try await fixture.startBroker()
        let out = try await Self.refusedAttempt(broker, secretKeyFile: nil, serverKeyFile: nil, in: fixture.folder) {
            (metricSample("metro_broker_disconnects_total{socket=\"ingest\"}", in: $0) ?? 0) >= 1
        }
        #expect(out == "silent\n")
        let text = try await scrapeMetrics(broker.endpoints["metrics"]!)
        #expect(metricSample("metro_broker_received_total", in: text) == 0)
        #expect(metricSample("metro_auth_accepted_total", in: text) == 0)
        #expect(await broker.stop() == 0)
    }

    @Test func sighupBringsANewKeyIn() async throws {
        let fixture = try SecureFixture(clients: ["orders"])
        let newcomer = try fixture.makeKeys("newcomer")
        let broker = try await fixture.startBroker()
        let refused = try await Self.refusedAttempt(
            broker, secretKeyFile: fixture.secretKeyPath("newcomer"), serverKeyFile: fixture.publicKeyPath("broker"),
            in: fixture.folder
        ) { (metricSample(Self.unknownKeyRefusals, in: $0) ?? 0) >= 1 }
        #expect(refused == "silent\n")

        // A broken file is refused on SIGHUP and the old list stays.
        try "identities: [".write(toFile: fixture.allowListPath, atomically: true, encoding: .utf8)
        broker.process.kill(SIGHUP)
        try await eventually("the broken list refused") {
            broker.process.stderrText.contains("allow-list not reloaded")
        }
        try fixture.add("newcomer", keys: newcomer)
        broker.process.kill(SIGHUP)
        try await eventually("the list reloaded") { broker.process.stderrText.contains("allow-list reloaded") }

        let stop = fixture.folder.url.appendingPathComponent("never").path
        for name in ["newcomer", "orders"] {
            let out = try await runPython(
                Self.publishAttempt(
                    endpoint: broker.ingest, secretKeyFile: fixture.secretKeyPath(name),
                    serverKeyFile: fixture.publicKeyPath("broker"), stop: stop, eventID: "from-\(name)"))
            #expect(out.hasPrefix("ACK "), "\(name): \(out)")
        }
        #expect(await broker.stop() == 0)
    }
}
