import Foundation
import Logging
import MetroSecurity
import MetroTestSupport
import Testing
import ZeroMQ

/// The `permissions:` of an allow-list identity (protocol.md §7.3) and how the
/// loops read them (`AccessCache`, §7.8).
@Suite struct PermissionsTests {
    let key = try! CurveKeyPair.generate()

    func list(_ permissions: String?) throws -> AllowList {
        var text = "identities:\n  a:\n    publicKey: \"\(key.publicKey)\"\n"
        if let permissions { text += "    permissions: \(permissions)\n" }
        return try AllowList.parse(text)
    }

    @Test func withoutPermissionsAnIdentityMayDoEverything() throws {
        let p = try list(nil).permissions(of: "a")
        #expect(p == .unrestricted)
        for action in [Permissions.Action.publish, .subscribe, .replay, .consume] {
            #expect(p.allows(action, Array("video.uploaded".utf8)))
            #expect(p.allows(action, []))
            #expect(p.allows(action, Array("$registry.registered".utf8)))
        }
        #expect(p.mayRegister("anything"))
    }

    @Test func withPermissionsOnlyWhatIsListed() throws {
        let p = try list("{publish: [\"video.\"], subscribe: [\"video.up\", \"user.\"], register: [profiles]}")
            .permissions(of: "a")
        #expect(p.allows(.publish, Array("video.uploaded".utf8)))
        #expect(!p.allows(.publish, Array("videos.x".utf8)))
        #expect(!p.allows(.publish, Array("user.x".utf8)))
        // A subscription is covered when it is at least as narrow as a permitted prefix.
        #expect(p.allows(.subscribe, Array("video.uploaded".utf8)))
        #expect(p.allows(.subscribe, Array("video.up".utf8)))
        #expect(!p.allows(.subscribe, Array("video.".utf8)))
        #expect(!p.allows(.subscribe, []))
        // Lists not given permit nothing.
        #expect(!p.allows(.replay, Array("video.uploaded".utf8)))
        #expect(!p.allows(.consume, Array("video.uploaded".utf8)))
        #expect(p.mayRegister("profiles"))
        #expect(!p.mayRegister("profiles-2"))
        #expect(!p.mayRegister("video-processing"))
    }

    @Test func emptyFormsMeanNothingAndTheEmptyPrefixEverything() throws {
        for text in ["{}", "{publish: []}", "{publish: }", ""] {
            let p = try list(text).permissions(of: "a")
            #expect(!p.allows(.publish, Array("x".utf8)), "\(text)")
            #expect(!p.mayRegister("x"), "\(text)")
        }
        let all = try list("{publish: [\"\"], register: [\"*\"]}").permissions(of: "a")
        #expect(all.allows(.publish, Array("anything.at.all".utf8)))
        #expect(all.mayRegister("video-processing"))
    }

    /// `call` (rpc method prefixes, §7.3) came after the others: missing, it
    /// permits every method, so that lists written before it keep their rpc
    /// access; `call: []` permits none.
    @Test func callIsEveryMethodWhenMissingAndNoneWhenEmpty() throws {
        for text in ["{}", "{publish: [\"video.\"]}"] {
            let p = try list(text).permissions(of: "a")
            #expect(p.allows(.call, Array("profile.get".utf8)), "\(text)")
        }
        let none = try list("{call: []}").permissions(of: "a")
        #expect(!none.allows(.call, Array("profile.get".utf8)))
        #expect(none == .nothing)
        let some = try list("{call: [\"profile.get\", \"video.\"]}").permissions(of: "a")
        #expect(some.allows(.call, Array("profile.get".utf8)))
        #expect(some.allows(.call, Array("video.list".utf8)))
        #expect(!some.allows(.call, Array("profile.update".utf8)))
        #expect(!some.allows(.call, Array("recommendations.get".utf8)))
        #expect(Permissions.unrestricted.allows(.call, Array("anything".utf8)))
        for bad in ["{call: [\"profile.*\"]}", "{call: [\"a b\"]}", "{call: [\"$x\"]}"] {
            #expect(throws: (any Error).self, "\(bad)") { _ = try list(bad) }
        }
    }

    @Test func anIdentityNotOnTheListMayDoNothing() throws {
        #expect(try list(nil).permissions(of: "gone") == .nothing)
    }

    /// protocol.md §7.3's permissions example loads and means what its comments say.
    @Test func theDocumentedExampleLoads() throws {
        let doc = try String(contentsOf: ProtocolVectors.documentURL, encoding: .utf8)
        let section = try #require(doc.range(of: "**Permissions.** What an identity may do"))
        let start = try #require(doc.range(of: "```yaml\n", range: section.upperBound..<doc.endIndex))
        let end = try #require(doc.range(of: "```", range: start.upperBound..<doc.endIndex))
        let list = try AllowList.parse(String(doc[start.upperBound..<end.lowerBound]))
        let worker = list.permissions(of: "video-worker")
        #expect(worker.allows(.publish, Array("video.processed".utf8)))
        #expect(!worker.allows(.publish, Array("user.created".utf8)))
        #expect(worker.allows(.subscribe, Array("user.".utf8)))
        #expect(worker.allows(.consume, Array("video.uploaded".utf8)))
        #expect(!worker.allows(.consume, Array("video.".utf8)))
        #expect(worker.mayRegister("video-processing"))
        #expect(list.permissions(of: "operator") == .unrestricted)
        #expect(list.permissions(of: "registry") == .nothing)
    }

    /// A loop's cache follows a reload at its next message, and forgets an identity
    /// the new list dropped.
    @Test func theCacheFollowsAReload() throws {
        let folder = try Folder()
        defer { folder.remove() }
        let path = folder.file("list.yaml")
        func write(_ permissions: String) throws {
            try "identities:\n  a:\n    publicKey: \"\(key.publicKey)\"\n    permissions: \(permissions)\n"
                .write(toFile: path, atomically: true, encoding: .utf8)
        }
        try write("{publish: [\"orders.\"]}")
        let auth = try ZapAuthenticator(domain: "metro.broker", allowListPath: path, logger: Logger(label: "test"))
        let control = AccessControl(authenticator: auth, registryIdentity: "a", logger: Logger(label: "test"))
        let cache = AccessCache(control)
        let before = cache.grant(userID: "a")
        #expect(before.isRegistry)
        #expect(!before.permissions.allows(.publish, Array("video.x".utf8)))
        #expect(cache.grant(userID: "a") === before)
        try write("{publish: [\"orders.\", \"video.\"]}")
        try auth.reload()
        #expect(cache.grant(userID: "a").permissions.allows(.publish, Array("video.x".utf8)))
        try "identities: {}".write(toFile: path, atomically: true, encoding: .utf8)
        try auth.reload()
        #expect(cache.grant(userID: "a").permissions == .nothing)
        #expect(cache.grant(userID: String?.none).permissions == .nothing)
        control.denied(.publish, identity: "a", "video.x")
        #expect(control.denials == 1)
    }
}
