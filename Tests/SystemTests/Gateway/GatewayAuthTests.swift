import Foundation
import MetroGateway
import MetroTestKit
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The gateway with authentication on (docs/gateway-auth.md), against real
/// processes: the secret and the tokens made by `metro gateway-auth`, users and
/// operators on each kind of route, every way a credential is refused (401), a
/// principal refused (403), garbage `Authorization` headers, and HTTPS.
@Suite(.serialized) struct GatewayAuthTests {
    /// A secret made by the CLI, an API keys file, and tokens minted by the CLI.
    struct Credentials {
        let folder: TemporaryDirectory
        let secretPath: String
        let keysPath: String
        static let operatorKey = "k-ops-0123456789abcdef0123"

        init() async throws {
            folder = try TemporaryDirectory()
            secretPath = folder.path + "/gateway.secret"
            keysPath = folder.path + "/api-keys"
            let made = try MetroProcess(["gateway-auth", "secret", secretPath])
            #expect(await made.waitForExit() == 0, "\(made.stderrText)")
            let mode = try FileManager.default.attributesOfItem(atPath: secretPath)[.posixPermissions] as? NSNumber
            #expect(mode?.intValue == 0o600)
            try "# key subject role\n\(Self.operatorKey) robot operator\n".write(
                toFile: keysPath, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: keysPath)
        }

        var gatewayArguments: [String] { ["--auth-secret-file", secretPath, "--api-keys-file", keysPath] }

        func token(_ user: String, _ role: String, ttl: String = "1h") async throws -> String {
            let mint = try MetroProcess([
                "gateway-auth", "token", "--user", user, "--role", role, "--ttl", ttl, "--secret-file", secretPath,
            ])
            #expect(await mint.waitForExit() == 0, "\(mint.stderrText)")
            return try #require(mint.stdoutLines.first)
        }
    }

    static func bearer(_ token: String) -> [String: String] { ["Authorization": "Bearer \(token)"] }

    /// A 401 problem with its challenge, whose detail says `why`.
    static func expectUnauthenticated(
        _ reply: HTTPReply, _ why: String, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(reply.status == 401 && reply.isProblem, "\(reply.status) \(reply.text)", sourceLocation: sourceLocation)
        #expect(reply.headers["www-authenticate"]?.hasPrefix("Bearer") == true, sourceLocation: sourceLocation)
        #expect(reply.json["type"] as? String == "urn:metro:problem:unauthenticated", sourceLocation: sourceLocation)
        #expect(
            (reply.json["detail"] as? String)?.contains(why) == true, "\(reply.text)", sourceLocation: sourceLocation)
    }

    static func expectForbidden(_ reply: HTTPReply, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(reply.status == 403 && reply.isProblem, "\(reply.status) \(reply.text)", sourceLocation: sourceLocation)
        #expect(reply.json["type"] as? String == "urn:metro:problem:forbidden", sourceLocation: sourceLocation)
    }

    @Test func usersActOnTheirOwnIdsAndOperatorsOnAll() async throws {
        let credentials = try await Credentials()
        let s = try await GatewayStack(gatewayArguments: credentials.gatewayArguments)
        let g = s.gateway
        let ops = Self.bearer(try await credentials.token("ops", "operator"))

        // Signup is the operator's; without a credential it is 401.
        Self.expectUnauthenticated(
            try await g.post("/v1/users", ["displayName": "Ada", "email": "ada@example.com"]), "no credentials")
        let ada = try await g.post("/v1/users", ["displayName": "Ada", "email": "ada@example.com"], headers: ops)
        let bob = try await g.post("/v1/users", ["displayName": "Bob", "email": "bob@example.com"], headers: ops)
        #expect(ada.status == 201 && bob.status == 201, "\(ada.text) \(bob.text)")
        let adaID = try #require(ada.json["id"] as? String)
        let bobID = try #require(bob.json["id"] as? String)
        let asAda = Self.bearer(try await credentials.token(adaID, "user"))

        // Her own profile, history and views; nobody else's.
        #expect(try await g.get("/v1/users/\(adaID)", headers: asAda).status == 200)
        Self.expectForbidden(try await g.get("/v1/users/\(bobID)", headers: asAda))
        Self.expectForbidden(
            try await g.patch(
                "/v1/users/\(bobID)", ["displayName": "B"], headers: asAda.merging(["If-Match": "\"1\""]) { a, _ in a })
        )
        let patched = try await g.patch(
            "/v1/users/\(adaID)", ["displayName": "Ada L."], headers: asAda.merging(["If-Match": "\"1\""]) { a, _ in a }
        )
        #expect(patched.status == 200, "\(patched.text)")
        #expect(try await g.get("/v1/users/\(adaID)/history", headers: asAda).status == 200)
        Self.expectForbidden(try await g.get("/v1/users/\(bobID)/history", headers: asAda))
        Self.expectForbidden(try await g.get("/v1/users/\(bobID)/recommendations", headers: asAda))
        Self.expectForbidden(try await g.post("/v1/videos/vid-1/views", ["userId": bobID], headers: asAda))
        #expect(try await g.post("/v1/videos/vid-1/views", ["userId": adaID], headers: asAda).status == 202)
        Self.expectForbidden(
            try await g.post("/v1/users", ["displayName": "Eve", "email": "eve@example.com"], headers: asAda))
        // An upload in Bob's name is refused before its body is read.
        let upload = try await HTTPTestClient.send(
            g.address, "POST", "/v1/videos?owner=\(bobID)&title=t",
            headers: asAda.merging(["Content-Type": "video/mp4"]) { a, _ in a }, body: Array(repeating: 7, count: 64))
        Self.expectForbidden(upload)
        // The catalogue is anyone's who is authenticated: no video worker runs, so 503 past the check.
        #expect(try await g.get("/v1/videos", headers: asAda).status == 503)
        Self.expectUnauthenticated(try await g.get("/v1/videos"), "no credentials")

        // Operations: the operator's (by token or API key); a user gets 403; probes are open.
        Self.expectForbidden(try await g.get("/v1/services", headers: asAda))
        Self.expectForbidden(try await g.get("/metrics", headers: asAda))
        #expect(try await g.get("/v1/services", headers: ops).status == 200)
        #expect(try await g.get("/v1/services", headers: Self.bearer(Credentials.operatorKey)).status == 200)
        #expect(try await g.get("/v1/users/\(bobID)", headers: ops).status == 200, "an operator acts for any user")
        #expect(try await g.get("/healthz").status == 200)
        #expect(try await g.get("/readyz", headers: ["Authorization": "Bearer nonsense"]).status == 200)

        // Refused and forbidden requests are counted.
        let metrics = try await g.get("/metrics", headers: ops)
        #expect(metrics.status == 200)
        for reason in ["unauthenticated", "forbidden"] {
            let line = metrics.text.split(separator: "\n").first {
                $0.hasPrefix("metro_gateway_shed_total{") && $0.contains("reason=\"\(reason)\"")
                    && $0.contains("service=\"gateway\"")
            }
            #expect(line.flatMap { Double($0.split(separator: " ").last!) }.map { $0 >= 2 } == true, "\(reason)")
        }
    }

    @Test func badCredentialsAre401AndTheGatewayKeepsServing() async throws {
        let credentials = try await Credentials()
        let s = try await GatewayStack(gatewayArguments: credentials.gatewayArguments)
        let g = s.gateway
        let ops = Self.bearer(try await credentials.token("ops", "operator"))
        let created = try await g.post("/v1/users", ["displayName": "Cy", "email": "cy@example.com"], headers: ops)
        let id = try #require(created.json["id"] as? String)
        let path = "/v1/users/\(id)"
        let secret = try GatewaySecret.load(credentials.secretPath)

        let expired = try await GatewayTokens.sign(
            GatewayClaims(subject: id, role: .user, expires: Date().addingTimeInterval(-5)), secret: secret)
        Self.expectUnauthenticated(try await g.get(path, headers: Self.bearer(expired)), "expired")
        let otherSecret = Array(repeating: UInt8(0x42), count: 32)
        let forged = try await GatewayTokens.sign(
            GatewayClaims(subject: id, role: .operator, expires: Date().addingTimeInterval(600)), secret: otherSecret)
        Self.expectUnauthenticated(try await g.get(path, headers: Self.bearer(forged)), "signature")
        // The same claims unsigned (`alg: none`), and a valid token with its signature cut off.
        let valid = try await credentials.token(id, "user")
        let parts = valid.split(separator: ".")
        let none = Data(#"{"alg":"none","typ":"JWT"}"#.utf8).base64EncodedString()
            .replacingOccurrences(of: "=", with: "").replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
        Self.expectUnauthenticated(try await g.get(path, headers: Self.bearer("\(none).\(parts[1]).")), "token")
        Self.expectUnauthenticated(try await g.get(path, headers: Self.bearer("\(parts[0]).\(parts[1]).")), "token")
        // Three empty-ish pieces: not a JWT at all.
        Self.expectUnauthenticated(try await g.get(path, headers: Self.bearer("a.b.c")), "not a valid token")

        // Garbage: wrong scheme, no credential, an unknown key, bytes outside ASCII, huge.
        let garbage: [(String, String)] = [
            ("Basic dXNlcjpwYXNzd29yZA==", "scheme"),
            ("Bearer", "scheme"),
            ("bearer    ", "scheme"),
            ("Bearer not-a-key-of-this-gateway", "unknown API key"),
            ("Bearer \u{00e9}\u{00ff}\u{0100}.\u{2603}.x", "not a valid token"),
            ("Bearer " + String(repeating: "A", count: 5000), "4096"),
            ("Bearer " + String(repeating: "A.", count: 2500), "4096"),
        ]
        for (header, why) in garbage {
            Self.expectUnauthenticated(try await g.get(path, headers: ["Authorization": header]), why)
        }
        // Header bytes that are not UTF-8 at all.
        let head = "GET \(path) HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer "
        let notUTF8 = try await HTTPTestClient.raw(
            g.address, Array(head.utf8) + [0xFF, 0xFE, 0x2E, 0xC0, 0x2E, 0x80] + Array("\r\n\r\n".utf8))
        Self.expectUnauthenticated(notUTF8, "not a valid token")
        // The gateway still serves the legitimate: lower-case scheme and several spaces are fine.
        #expect(try await g.get(path, headers: ["Authorization": "bearer   \(valid)"]).status == 200)
        #expect(try await g.get(path, headers: Self.bearer(valid)).status == 200)
        #expect(g.process.isRunning)
    }

    /// SIGHUP to the running gateway: a key added and one revoked take effect
    /// without a restart; a keys file that does not load is refused, logged, and
    /// the keys in force stay.
    @Test func sighupReloadsTheKeysAndABrokenFileChangesNothing() async throws {
        let credentials = try await Credentials()
        let s = try await GatewayStack(gatewayArguments: credentials.gatewayArguments)
        let g = s.gateway
        let old = Self.bearer(Credentials.operatorKey)
        #expect(try await g.get("/v1/services", headers: old).status == 200)

        let newKey = "k-new-0123456789abcdef0123"
        try "\(newKey) robot operator\n".write(toFile: credentials.keysPath, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: credentials.keysPath)
        g.process.kill(SIGHUP)
        try await eventually("the new key in force") {
            try await g.get("/v1/services", headers: Self.bearer(newKey)).status == 200
        }
        Self.expectUnauthenticated(try await g.get("/v1/services", headers: old), "unknown API key")

        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: credentials.keysPath)
        g.process.kill(SIGHUP)
        try await eventually("the unsafe file refused") {
            g.process.stderrText.contains("gateway credentials not reloaded")
        }
        #expect(await g.process.stderrShows("chmod 600"))
        #expect(try await g.get("/v1/services", headers: Self.bearer(newKey)).status == 200)
        #expect(g.process.isRunning)
    }

    @Test func anUnsafeSecretIsRefusedAtStart() async throws {
        let credentials = try await Credentials()
        try FileManager.default.setAttributes([.posixPermissions: 0o640], ofItemAtPath: credentials.secretPath)
        let gateway = try MetroProcess(["gateway", "--listen", "127.0.0.1:0"] + credentials.gatewayArguments)
        #expect(await gateway.waitForExit(timeout: .seconds(30)) != 0)
        #expect(gateway.stderrText.contains("chmod 600"), "\(gateway.stderrText)")
        #expect(!gateway.stdoutLines.contains { $0.hasPrefix("ready ") })
    }

    @Test func httpsRoundTripWithASelfSignedCertificate() async throws {
        let folder = try TemporaryDirectory()
        let cert = folder.path + "/cert.pem"
        let key = folder.path + "/key.pem"
        let openssl = try ChildProcess(
            URL(fileURLWithPath: "/usr/bin/openssl"),
            [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
                key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            ])
        #expect(await openssl.waitForExit(timeout: .seconds(30)) == 0, "\(openssl.stderrText)")
        let credentials = try await Credentials()
        let broker = try await BrokerHarness(config: GatewayStack.brokerConfig)
        let registry = try await RegistryUnderTest(broker: broker.publish)
        let gateway = try await GatewayUnderTest(
            broker: broker, registry: registry.endpoint,
            extra: ["--tls-cert", cert, "--tls-key", key] + credentials.gatewayArguments)
        let ops = try await credentials.token("ops", "operator")

        func curl(_ path: String, _ extra: [String] = []) async throws -> (status: String, body: String) {
            let c = try ChildProcess(
                URL(fileURLWithPath: "/usr/bin/curl"),
                [
                    "-sS", "--max-time", "10", "--cacert", cert, "-w", "\n%{http_code}",
                    "https://\(gateway.address)\(path)",
                ]
                    + extra)
            #expect(await c.waitForExit(timeout: .seconds(20)) == 0, "\(c.stderrText)")
            let lines = c.stdoutText.split(separator: "\n", omittingEmptySubsequences: false)
            return (String(lines.last ?? ""), lines.dropLast().joined(separator: "\n"))
        }
        let ready = try await curl("/readyz")
        #expect(ready.status == "200" && ready.body.contains("ready"), "\(ready)")
        let services = try await curl("/v1/services", ["-H", "Authorization: Bearer \(ops)"])
        #expect(services.status == "200" && services.body.contains("instances"), "\(services)")
        #expect(try await curl("/v1/services").status == "401")
        // Plain HTTP to the TLS port gets no HTTP answer.
        await #expect(throws: (any Error).self) { try await HTTPTestClient.send(gateway.address, "GET", "/healthz") }
        // A client that does not trust the certificate refuses it.
        let untrusting = try ChildProcess(
            URL(fileURLWithPath: "/usr/bin/curl"), ["-sS", "--max-time", "10", "https://\(gateway.address)/healthz"])
        #expect(
            await untrusting.waitForExit(timeout: .seconds(20)) == 60, "curl: peer certificate cannot be authenticated")
    }
}
