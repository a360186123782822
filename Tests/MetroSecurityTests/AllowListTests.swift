import Foundation
import Logging
import MetroSecurity
import MetroTestSupport
import Testing
import ZeroMQ

@Suite struct AllowListTests {
    let gateway = try! CurveKeyPair.generate()
    let worker = try! CurveKeyPair.generate()

    @Test func parsesIdentitiesAndFindsThemByKey() throws {
        let list = try AllowList.parse(
            """
            # who may connect
            identities:
              video-worker:
                publicKey: "\(worker.publicKey)"
              gateway:
                publicKey: "\(gateway.publicKey)"
            """)
        #expect(list.identities.map(\.name) == ["gateway", "video-worker"])
        #expect(list.identity(forPublicKey: gateway.publicKey) == "gateway")
        #expect(list.identity(forPublicKey: worker.publicKey) == "video-worker")
        #expect(list.identity(forPublicKey: try CurveKeyPair.generate().publicKey) == nil)
    }

    @Test func anEmptyListLetsNobodyIn() throws {
        #expect(try AllowList.parse("identities: {}").identities.isEmpty)
        #expect(try AllowList.parse("identities:").identities.isEmpty)
    }

    /// Each malformed file is refused with a reason naming what is wrong. Keys are always
    /// double-quoted: a Z85 key may end in ':' or hold "{", which unquoted YAML reads as syntax
    /// (a generated key ending in ':' once made this a "not YAML" error instead).
    @Test(arguments: [
        ("[1, 2]", "mapping"),
        ("users: {}", "unknown key 'users'"),
        ("identities: [a]", "must be a mapping"),
        ("identities:\n  a: \"KEY\"", "must be a mapping with 'publicKey'"),
        ("identities:\n  a: {}", "has no 'publicKey'"),
        ("identities:\n  a: {publicKey: \"short\"}", "not a 40-character Z85 key"),
        ("identities:\n  a: {publicKey: \"KEY\", topics: [x]}", "unknown key 'topics'"),
        ("identities:\n  a: {publicKey: \"KEY\", permissions: {write: [x]}}", "unknown permission 'write'"),
        ("identities:\n  a: {publicKey: \"KEY\", permissions: {publish: [\"video.*\"]}}", "not patterns"),
        ("identities:\n  a: {publicKey: \"KEY\", permissions: {publish: \"video.\"}}", "must be a list"),
        ("identities:\n  a: {publicKey: \"KEY\", permissions: {publish: [[x]]}}", "non-string"),
        ("identities:\n  a: {publicKey: \"KEY\", permissions: {subscribe: [\"a b\"]}}", "a topic prefix has"),
        ("identities:\n  a: {publicKey: \"KEY\", permissions: {register: [Videos]}}", "not a service name"),
        ("identities:\n  a: {publicKey: \"KEY\", permissions: [x]}", "must be a mapping"),
        ("identities:\n  a: {publicKey: \"KEY\"}\n  b: {publicKey: \"KEY\"}", "the same publicKey"),
        ("identities:\n  'a b': {publicKey: \"KEY\"}", "identity name 'a b'"),
    ])
    func refusesMalformedFiles(text: String, reason: String) throws {
        let error = try #require(throws: SecurityError.self) {
            try AllowList.parse(text.replacingOccurrences(of: "KEY", with: gateway.publicKey), path: "list.yaml")
        }
        #expect(error.code == .invalidAllowList)
        #expect(error.description.contains(reason), "\(error)")
        #expect(error.description.hasPrefix("list.yaml: "))
    }
}

@Suite struct ZapAuthenticatorTests {
    let allowed = try! CurveKeyPair.generate()

    func authenticator(path: String? = nil) throws -> ZapAuthenticator {
        ZapAuthenticator(
            domain: "metro.broker",
            allowList: try AllowList([.init(name: "gateway", publicKey: allowed.publicKey)]), path: path,
            logger: Logger(label: "test"))
    }

    func curve(_ key: String, domain: String = "metro.broker") -> ZapRequest {
        ZapRequest(domain: domain, address: "127.0.0.1", mechanism: "CURVE", credentials: [Z85.decode(key)!])
    }

    @Test func theRulesInOrder() throws {
        let auth = try authenticator()
        #expect(auth.decide(curve(allowed.publicKey)) == .allow(userID: "gateway"))
        #expect(auth.decide(curve(allowed.publicKey, domain: "other")) == .deny(reason: "wrong_domain"))
        #expect(auth.decide(ZapRequest(domain: "metro.broker", mechanism: "NULL")) == .deny(reason: "not_curve"))
        #expect(
            auth.decide(ZapRequest(domain: "metro.broker", mechanism: "CURVE", credentials: [[1, 2]]))
                == .deny(reason: "malformed_credential"))
        #expect(auth.decide(curve(try CurveKeyPair.generate().publicKey)) == .deny(reason: "unknown_key"))
        #expect(auth.acceptances == 1)
        #expect(auth.refusals == 4)
    }

    @Test func reloadPutsTheFileInForceAndKeepsTheOldListWhenItIsBad() throws {
        let folder = try Folder()
        defer { folder.remove() }
        let path = folder.file("allow.yaml")
        let newcomer = try CurveKeyPair.generate()
        try "identities:\n  gateway: {publicKey: \"\(allowed.publicKey)\"}\n".write(
            toFile: path, atomically: true, encoding: .utf8)
        let auth = try ZapAuthenticator(domain: "metro.broker", allowListPath: path, logger: Logger(label: "test"))
        #expect(auth.decide(curve(newcomer.publicKey)) == .deny(reason: "unknown_key"))

        try
            "identities:\n  gateway: {publicKey: \"\(allowed.publicKey)\"}\n  new: {publicKey: \"\(newcomer.publicKey)\"}\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try auth.reload().identities.count == 2)
        #expect(auth.decide(curve(newcomer.publicKey)) == .allow(userID: "new"))

        try "identities: [broken".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: SecurityError.self) { try auth.reload() }
        #expect(auth.decide(curve(newcomer.publicKey)) == .allow(userID: "new"))
    }
}

@Suite struct AllowListDocumentTests {
    /// protocol.md §7.3's example file is a valid allow-list, as written.
    @Test func theExampleOfSection73Loads() throws {
        let doc = try String(contentsOf: ProtocolVectors.documentURL, encoding: .utf8)
        let section = try #require(doc.range(of: "### 7.3 The allow-list file"))
        let start = try #require(doc.range(of: "```yaml\n", range: section.upperBound..<doc.endIndex))
        let end = try #require(doc.range(of: "```", range: start.upperBound..<doc.endIndex))
        let list = try AllowList.parse(String(doc[start.upperBound..<end.lowerBound]))
        #expect(list.identities.map(\.name) == ["gateway", "video-worker"])
        #expect(list.identity(forPublicKey: "<i1dS9X[(Q]nh.d)*-A-632XtR{uHB(fkhroHf%x") == "gateway")
    }
}
