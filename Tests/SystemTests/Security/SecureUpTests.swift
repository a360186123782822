import Foundation
import MetroSecurity
import MetroTestKit
import Testing
import ZeroMQ

#if canImport(Glibc)
    import Glibc
#endif

/// `metro up --secure` (protocol.md §7.10): the whole system with CURVE on every
/// socket, from nothing but a data folder. Keys are made under `<data>/keys`; the
/// CLI gets in with `--keys`; the gateway reaches profiles over a CURVE rpc
/// connection whose server key it learnt from the registry; and a client without
/// keys gets nothing from the broker, the registry or a worker's rpc socket.
@Suite(.serialized) struct SecureUpTests {
    @Test func theWholeSystemRunsWithCurveAndPlainClientsGetNothing() async throws {
        let (up, ready, e, data, dir) = try await Self.startSecureUp(services: ["1", "0", "0"])
        _ = dir
        defer { up.kill(SIGKILL) }
        let gateway = try #require(ready["gateway"])
        let keys = data + "/keys"

        // Every identity has a pair; secrets are 0600; the allow-list names the clients.
        for name in ["broker", "registry", "gateway", "cli", "profiles", "video", "recommendations"] {
            let attributes = try FileManager.default.attributesOfItem(atPath: "\(keys)/\(name).key")
            #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600, "\(name).key")
        }
        let allowList = try AllowList.load("\(keys)/allow-list.yaml")
        #expect(Set(allowList.identities.map(\.name)) == Set(SecureSystemNames.clients))
        // The doctor finds every grant this version needs in the fresh allow-list.
        let doctor = try #require(try await DoctorTests.runDoctor(["--keys", keys]).1["allow-list"])
        #expect(doctor.0 && doctor.1.contains("have what this version needs"), "\(doctor.1)")
        #expect(ready["curvePublicKey"] == (try KeyFiles.loadPublic("\(keys)/broker.pub")))
        // The human ready message goes to stderr after the ready line on stdout, and the
        // two pipes are read apart: a full run once checked it before it was read.
        try await waitFor("the human ready message") { up.stderrText.contains("ready in ") }
        #expect(up.stderrText.contains("export METRO_KEYS=\(keys)"))

        // The CLI with the operator's key: an acknowledged publish.
        let publish = try MetroProcess(
            [
                "publish", "video.watched", "--example", "--ingest", e[0], "--timeout-ms", "10000",
            ], environment: ["METRO_KEYS": keys])
        #expect(await publish.waitForExit(timeout: .seconds(20)) == 0, "\(publish.stderrText)")
        #expect(publish.stdoutLines.first?.hasPrefix("acked video.watched seq ") == true, "\(publish.stdoutLines)")

        // A service's key may publish only its own topics (protocol.md §7.8): the
        // recommendations identity publishing a view is refused with 110.
        let outside = try MetroProcess(
            [
                "publish", "video.watched", "--example", "--ingest", e[0], "--timeout-ms", "10000", "--keys", keys,
                "--identity", "recommendations",
            ])
        #expect(await outside.waitForExit(timeout: .seconds(20)) != 0)
        #expect(outside.stderrText.contains("forbidden"), "\(outside.stderrText)")

        // Without keys, the same publish never gets its ACK.
        let plain = try MetroProcess([
            "publish", "video.watched", "--example", "--ingest", e[0], "--timeout-ms", "1500",
        ])
        #expect(await plain.waitForExit(timeout: .seconds(20)) != 0)
        #expect(plain.stderrText.contains("no ACK") && plain.stderrText.contains("METRO_KEYS"), "\(plain.stderrText)")
        // Read from the broker's ZMTP greeting, not guessed.
        #expect(plain.stderrText.contains("it requires CURVE: pass --keys DIR"), "\(plain.stderrText)")

        // HTTP needs a bearer token (docs/gateway-auth.md): none is 401; an operator
        // token minted from the secret `up` made creates a user, whose own token reads
        // it, all through the gateway → profiles over CURVE rpc.
        let noToken = try await HTTPTestClient.send(gateway, "GET", "/v1/services")
        #expect(noToken.status == 401, "\(noToken.text)")
        #expect(up.stderrText.contains("metro gateway-auth token"), "the ready message says how to get a token")
        let secret = keys + "/gateway-auth.secret"
        let operatorToken = try await Self.token(user: "ops", role: "operator", secret: secret)
        let created = try await HTTPTestClient.json(
            gateway, "POST", "/v1/users",
            ["displayName": "Sec", "email": "sec-\(UUID().uuidString.prefix(8))@example.com"],
            headers: ["Authorization": "Bearer \(operatorToken)"])
        #expect(created.status == 201, "\(created.text)")
        let id = try #require(created.json["id"] as? String)
        let userToken = try await Self.token(user: id, role: "user", secret: secret)
        let read = try await HTTPTestClient.send(
            gateway, "GET", "/v1/users/\(id)", headers: ["Authorization": "Bearer \(userToken)"])
        #expect(read.status == 200, "\(read.text)")

        // The registry lists profiles with the key of its rpc socket: profiles.pub.
        let services = try MetroProcess(["services", "--registry", e[4], "--json", "--keys", keys])
        #expect(await services.waitForExit(timeout: .seconds(20)) == 0, "\(services.stderrText)")
        let listed = services.stdoutLines.joined()
        let profilesKey = try KeyFiles.loadPublic("\(keys)/profiles.pub")
        #expect(listed.contains(profilesKey.replacingOccurrences(of: "/", with: "\\/")) || listed.contains(profilesKey))
        let rpcEndpoint = try #require(Self.firstEndpoint(in: listed), "\(listed)")

        // A worker's rpc socket answers a CURVE caller on the allow-list, and a plain one never.
        let cli = try KeyFiles.loadSecret("\(keys)/cli.key")
        let badFrames: [[UInt8]] = [Array("metro/1".utf8)]
        let secured = try await Self.exchange(
            rpcEndpoint, badFrames, curve: CurveCredentials(keys: cli, serverPublicKey: profilesKey))
        #expect(secured?.first == Array("metro/1".utf8), "an error reply to a malformed call")
        #expect(try await Self.exchange(rpcEndpoint, badFrames, curve: nil) == nil)
        // Per method (`call`, protocol.md §7.8): the recommendations identity, listed
        // with `call: []`, gets 110 for profile.get; the operator's key is answered.
        let get: [[UInt8]] = [
            Array("metro/1".utf8), Array("REQUEST".utf8), Array("r-1".utf8), Array("profile.get".utf8),
            [0, 0, 0x27, 0x10], Array("{}".utf8), Array(#"{"userId":"nobody"}"#.utf8),
        ]
        let recommendations = try KeyFiles.loadSecret("\(keys)/recommendations.key")
        let refused = try await Self.exchange(
            rpcEndpoint, get, curve: CurveCredentials(keys: recommendations, serverPublicKey: profilesKey))
        #expect(refused.map { Array($0.dropFirst().prefix(2)) } == [Array("ERROR".utf8), Array("110".utf8)])
        let answered = try await Self.exchange(
            rpcEndpoint, get, curve: CurveCredentials(keys: cli, serverPublicKey: profilesKey))
        #expect(answered.map { $0.count > 2 && $0[2] != Array("110".utf8) } == true, "\(String(describing: answered))")
        // A key that is not on the allow-list gets nothing either.
        let stranger = try CurveKeyPair.generate()
        #expect(
            try await Self.exchange(
                rpcEndpoint, badFrames, curve: CurveCredentials(keys: stranger, serverPublicKey: profilesKey)) == nil)
        // Garbage at the rpc port's TCP level (random bytes; a ZMTP greeting that then
        // speaks nonsense) is dropped by libzmq, and the allowed caller is still served.
        let hostPort = String(rpcEndpoint.dropFirst("tcp://".count))
        _ = try? await tcpExchange(hostPort, (0..<512).map { _ in UInt8.random(in: 0...255) })
        let greeting: [UInt8] = [0xFF] + Array(repeating: 0, count: 8) + [0x7F, 3, 0] + Array("CURVE".utf8)
        _ = try? await tcpExchange(
            hostPort, greeting + Array(repeating: 0, count: 15) + Array(repeating: 0xAB, count: 300))
        let after = try await Self.exchange(
            rpcEndpoint, badFrames, curve: CurveCredentials(keys: cli, serverPublicKey: profilesKey))
        #expect(after?.first == Array("metro/1".utf8), "still served after garbage")
        // Nor does a plain client of the registry.
        #expect(try await Self.exchange(e[4], [[], Array("metro/1".utf8), Array("LIST".utf8)], curve: nil) == nil)

        up.kill(SIGTERM)
        #expect(await up.waitForExit(timeout: .seconds(30)) == 0)
    }

    /// The whole story of GatewayStoryTests, on `metro up --secure` with every
    /// service: users made by an operator's token, a real clip uploaded and
    /// processed, views and recommendations each with its user's own token, and
    /// every process talking CURVE under its least-privilege permissions.
    @Test func theWholeStoryOverHTTPOnASecureSystem() async throws {
        let (up, ready, _, data, dir) = try await Self.startSecureUp(services: ["1", "1", "1"])
        _ = dir
        defer { up.kill(SIGKILL) }
        let gateway = try #require(ready["gateway"])
        let secret = data + "/keys/gateway-auth.secret"
        let operatorToken = try await Self.token(user: "ops", role: "operator", secret: secret)
        func call(_ method: String, _ path: String, token: String, json: Any? = nil, body: [UInt8]? = nil)
            async throws -> HTTPReply
        {
            let auth = ["Authorization": "Bearer \(token)"]
            if let json { return try await HTTPTestClient.json(gateway, method, path, json, headers: auth) }
            return try await HTTPTestClient.send(
                gateway, method, path, headers: body == nil ? auth : auth.merging(["Content-Type": "video/mp4"]) { $1 },
                body: body)
        }
        var users: [String: (id: String, token: String)] = [:]
        for name in ["Ada", "Bob"] {
            let reply = try await call(
                "POST", "/v1/users", token: operatorToken,
                json: ["displayName": name, "email": "\(name.lowercased())@example.com", "favouriteTags": ["sea"]])
            let id = try #require(reply.json["id"] as? String, "\(reply.status) \(reply.text)")
            users[name] = (id, try await Self.token(user: id, role: "user", secret: secret))
        }
        let ada = try #require(users["Ada"]), bob = try #require(users["Bob"])
        let folder = try TemporaryDirectory()
        let clipURL = folder.url.appendingPathComponent("clip.mp4")
        try await TestClip.make(clipURL, seconds: 1, width: 160, height: 120)
        let clip = Array(try Data(contentsOf: clipURL))
        var videos: [String] = []
        for (owner, title) in [(ada, "Lighthouse"), (bob, "Harbour")] {
            let reply = try await call(
                "POST", "/v1/videos?owner=\(owner.id)&title=\(title)&tags=sea", token: owner.token, body: clip)
            videos.append(try #require(reply.json["videoId"] as? String, "\(reply.status) \(reply.text)"))
        }
        // Bob may not upload as Ada.
        let forged = try await call("POST", "/v1/videos?owner=\(ada.id)&title=X", token: bob.token, body: clip)
        #expect(forged.status == 403, "\(forged.text)")
        let (lighthouse, harbour) = (videos[0], videos[1])
        for id in videos {
            try await eventually("video \(id) processed", timeout: .seconds(90), interval: .milliseconds(200)) {
                let reply = try await call("GET", "/v1/videos/\(id)", token: ada.token)
                #expect(reply.json["status"] as? String != "failed", "\(reply.text)")
                return reply.json["status"] as? String == "processed"
            }
        }
        for (user, video) in [(bob, lighthouse), (bob, harbour), (ada, lighthouse)] {
            let view = try await call(
                "POST", "/v1/videos/\(video)/views", token: user.token, json: ["userId": user.id, "secondsWatched": 1])
            #expect(view.status == 202, "\(view.text)")
        }
        try await eventually("Ada is offered the harbour", timeout: .seconds(30), interval: .milliseconds(200)) {
            let reply = try await call("GET", "/v1/users/\(ada.id)/recommendations?limit=5", token: ada.token)
            let items = reply.json["items"] as? [[String: Any]] ?? []
            return items.first?["videoId"] as? String == harbour
        }
        let history = try await call("GET", "/v1/users/\(ada.id)/history", token: ada.token)
        #expect((history.json["entries"] as? [Any])?.count == 1, "\(history.text)")
        #expect(!up.stderrText.contains("permission denied"), "no identity of the system was denied anything")
        up.kill(SIGTERM)
        #expect(await up.waitForExit(timeout: .seconds(30)) == 0)
    }

    /// One SIGHUP to `metro up --secure` reaches every ready child: an identity
    /// added to `<data>/keys/allow-list.yaml` is refused by the broker before and
    /// acknowledged after, every child logs its reload, and no child restarts.
    @Test func aSighupToUpReloadsTheAllowListInEveryChild() async throws {
        let (up, _, e, data, dir) = try await Self.startSecureUp(services: ["1", "0", "0"])
        _ = dir
        defer { up.kill(SIGKILL) }
        let keys = data + "/keys"
        let newcomer = try CurveKeyPair.generate()
        try KeyFiles.write(newcomer, name: "newcomer", directory: keys)
        func publishAsNewcomer(timeoutMs: Int) async throws -> (status: Int32?, process: MetroProcess) {
            let p = try MetroProcess([
                "publish", "video.watched", "--example", "--ingest", e[0], "--timeout-ms", "\(timeoutMs)",
                "--keys", keys, "--identity", "newcomer",
            ])
            return (await p.waitForExit(timeout: .seconds(20)), p)
        }
        let before = try await publishAsNewcomer(timeoutMs: 1500)
        #expect(before.status != 0, "not on the list yet: \(before.process.stdoutLines)")

        let listPath = keys + "/allow-list.yaml"
        let list = try String(contentsOfFile: listPath, encoding: .utf8)
        try (list + "  newcomer:\n    publicKey: \"\(newcomer.publicKey)\"\n").write(
            toFile: listPath, atomically: true, encoding: .utf8)
        let pidsBefore = Self.childPids(of: up.pid)
        up.kill(SIGHUP)
        try await eventually("every child reloaded") {
            let text = up.stderrText
            return ["broker", "registry", "profiles-1"].allSatisfy { child in
                text.split(separator: "\n").contains { $0.hasPrefix(child + " ") && $0.contains("allow-list reloaded") }
            } && text.contains("gateway credentials reloaded")
        }
        #expect(up.stderrText.contains("SIGHUP forwarded"))
        let after = try await publishAsNewcomer(timeoutMs: 10000)
        #expect(after.status == 0, "\(after.process.stderrText)")
        #expect(
            after.process.stdoutLines.first?.hasPrefix("acked video.watched seq ") == true,
            "\(after.process.stdoutLines)")
        #expect(Self.childPids(of: up.pid) == pidsBefore, "no child restarted")
        #expect(up.isRunning)
        up.kill(SIGTERM)
        #expect(await up.waitForExit(timeout: .seconds(30)) == 0)
    }

    /// The pids of `parent`'s children (from /proc), sorted.
    static func childPids(of parent: Int32) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { Int32($0) }.filter { pid in
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return false }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 1 && Int32(fields[1]) == parent
        }.sorted()
    }

    /// `metro up --secure` on free ports in a fresh folder (journal fsync off), with
    /// `services` instances of profiles, video and recommendations and a gateway on
    /// an ephemeral port, once its ready line is out. `e`: ingest, publish, events,
    /// consume, registry.
    /// `metro doctor` on a running secure system: with its key folder the broker
    /// and registry answer over CURVE and are named as a running Metro (the doctor
    /// passes); without keys their ports are "a ZeroMQ server that requires CURVE",
    /// read from the ZMTP greeting, not "something else (not Metro)" as before. A
    /// second `metro up` on the same data folder names them too.
    @Test func theDoctorKnowsARunningSecureSystem() async throws {
        let (up, _, e, data, dir) = try await Self.startSecureUp(services: ["0", "0", "0"])
        defer { up.kill(SIGKILL) }
        let config = dir.path + "/broker.yaml"
        let args = ["--config", config, "--registry", e[4], "--gateway", ""]

        let (withKeys, known) = try await DoctorTests.runDoctor(args + ["--data-dir", data])
        #expect(withKeys == 0, "\(known.filter { !$0.value.0 })")
        for port in ["ingest", "publish", "events", "consume"] {
            let check = try #require(known["port \(port)"])
            #expect(check.0 && check.1.contains("in use by a running secure Metro broker"), "\(check.1)")
        }
        #expect(known["port registry"]?.1.contains("a running secure Metro registry") == true)

        let elsewhere = try TemporaryDirectory()
        let (withoutKeys, unknown) = try await DoctorTests.runDoctor(args + ["--data-dir", elsewhere.path])
        #expect(withoutKeys == 1)
        for port in ["ingest", "consume", "registry"] {
            let check = try #require(unknown["port \(port)"])
            #expect(!check.0 && check.1.contains("taken by a ZeroMQ server that requires CURVE"), "\(check.1)")
        }

        let second = try MetroProcess(["up", "--data-dir", data, "--gateway", ""] + args.prefix(4))
        #expect(await second.waitForExit(timeout: .seconds(30)) != 0)
        #expect(second.stderrText.contains("Another Metro system runs on these ports"), "\(second.stderrText)")
        #expect(!second.stderrText.contains("started broker"))
        // The CLI without keys says why the registry is silent: it requires CURVE.
        let services = try MetroProcess(["services", "--registry", e[4], "--timeout-ms", "300"])
        #expect(await services.waitForExit(timeout: .seconds(20)) != 0)
        #expect(services.stderrText.contains("it requires CURVE: pass --keys DIR"), "\(services.stderrText)")
        let stats = try MetroProcess(["broker", "stats", "--consume", e[3], "--timeout-ms", "300"])
        #expect(await stats.waitForExit(timeout: .seconds(20)) != 0)
        #expect(stats.stderrText.contains("it requires CURVE: pass --keys DIR"), "\(stats.stderrText)")
        let consume = try MetroProcess(["consume", "--group", "g-plain", "--consume", e[3]])
        try await waitFor("why the JOIN is unanswered", timeout: .seconds(15)) {
            consume.stderrText.contains("has not answered the JOIN of g-plain (it requires CURVE")
        }
        consume.kill(SIGTERM)
        _ = await consume.waitForExit(timeout: .seconds(10))

        // The probes left no refusal in the running system's counters or log.
        #expect(!up.stderrText.contains("refused"), "\(up.stderrText)")
    }

    static func startSecureUp(services: [String]) async throws -> (
        up: MetroProcess, ready: [String: String], e: [String], data: String, dir: TemporaryDirectory
    ) {
        let dir = try TemporaryDirectory()
        let e = try TestPorts.freeEndpoints(5)
        let config = try writeBrokerConfig(in: dir.path, e, more: "journal:\n  fsync: never")
        let data = dir.url.appendingPathComponent("data").path
        let up = try MetroProcess([
            "up", "--secure", "--data-dir", data, "--config", config, "--registry", e[4], "--profiles", services[0],
            "--video", services[1], "--recommendations", services[2], "--gateway", "127.0.0.1:0",
        ])
        do {
            return (up, try await up.waitUntilReady(timeout: .seconds(60)), e, data, dir)
        } catch {
            up.kill(SIGKILL)
            throw error
        }
    }

    /// A bearer token from `metro gateway-auth token`.
    static func token(user: String, role: String, secret: String) async throws -> String {
        let p = try MetroProcess([
            "gateway-auth", "token", "--user", user, "--role", role, "--ttl", "10m", "--secret-file", secret,
        ])
        #expect(await p.waitForExit(timeout: .seconds(20)) == 0, "\(p.stderrText)")
        return try #require(p.stdoutLines.last { !$0.isEmpty })
    }

    /// The first `tcp://` endpoint in `metro services --json` output.
    static func firstEndpoint(in text: String) -> String? {
        guard let start = text.range(of: "tcp:") else { return nil }
        let rest = text[start.lowerBound...].replacingOccurrences(of: "\\/", with: "/")
        return rest.split(separator: "\"").first.map(String.init)
    }

    /// One request over a fresh DEALER (CURVE with `curve`); the reply, or nil when
    /// none comes within 1.5 s (the handshake never completed).
    static func exchange(_ endpoint: String, _ frames: [[UInt8]], curve: CurveCredentials?) async throws
        -> [[UInt8]]?
    {
        try await offPool {
            let s = try testContext.socket(.dealer)
            defer { s.close() }
            if let curve { try s.makeCurveClient(curve) }
            try s.set(.receiveTimeout(milliseconds: 1500))
            try s.connect(endpoint)
            try s.send(multipart: frames)
            return try s.receiveMultipart()
        }
    }
}

/// The client identities `metro up --secure` lists (Sources/metro/Support/SecureSystem.swift).
enum SecureSystemNames {
    static let clients = ["registry", "gateway", "cli", "profiles", "video", "recommendations"]
}
