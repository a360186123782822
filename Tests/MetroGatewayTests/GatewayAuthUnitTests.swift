import Foundation
import Testing

@testable import MetroGateway

/// The gateway's secret files and credential checks, without a server
/// (GatewayAuthTests in SystemTests runs them through real processes).
@Suite struct GatewayAuthUnitTests {
    static func folder() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("metro-gwauth-\(UUID().uuidString)")
            .path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func aSecretIsMadeMode0600AndRefusedWhenOthersMayReadIt() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/s"
        try GatewaySecret.generate(at: path)
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber
        #expect(mode?.intValue == 0o600)
        #expect(try GatewaySecret.load(path).count == 32)
        #expect(throws: AuthFileError.self) { try GatewaySecret.generate(at: path) }  // never overwrites
        try FileManager.default.setAttributes([.posixPermissions: 0o604], ofItemAtPath: path)
        let error = #expect(throws: AuthFileError.self) { try GatewaySecret.load(path) }
        #expect(error?.reason.contains("chmod 600") == true)

        let short = dir + "/short"
        try SecretFile.create(short, text: String(repeating: "ab", count: 16) + "\n")
        #expect(throws: AuthFileError.self) { try GatewaySecret.load(short) }
        let notHex = dir + "/nothex"
        try SecretFile.create(notHex, text: String(repeating: "zz", count: 40))
        #expect(throws: AuthFileError.self) { try GatewaySecret.load(notHex) }
    }

    @Test func apiKeysFileLinesAreCheckedOneByOne() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let good = dir + "/good"
        try SecretFile.create(
            good, text: "# comment\n\n0123456789abcdef ops operator\n  fedcba9876543210   ada user  \n")
        let keys = try APIKeys.load(good)
        #expect(keys.principal(for: "0123456789abcdef") == Principal(subject: "ops", role: .operator))
        #expect(keys.principal(for: "fedcba9876543210") == Principal(subject: "ada", role: .user))
        for (i, bad) in [
            "short ada user", "0123456789abcdef ada admin", "0123456789abcdef ada", "0123.56789abcdef ada user",
            "0123456789abcdef ada user\n0123456789abcdef bob user",
        ].enumerated() {
            let path = dir + "/bad\(i)"
            try SecretFile.create(path, text: bad + "\n")
            #expect(throws: AuthFileError.self, "\(bad)") { try APIKeys.load(path) }
        }
    }

    @Test func credentialsAreReadAsTokensOrKeys() async throws {
        let secret = Array(repeating: UInt8(7), count: 32)
        let auth = await GatewayAuth(
            secret: secret, apiKeys: APIKeys(["0123456789abcdef": Principal(subject: "ops", role: .operator)]))
        let token = try await GatewayTokens.mint(secret: secret, subject: "u-1", role: .user, ttl: .seconds(60))
        #expect(try await auth.principal("Bearer \(token)") == Principal(subject: "u-1", role: .user))
        #expect(try await auth.principal("BEARER \(token)") == Principal(subject: "u-1", role: .user))
        #expect(try await auth.principal("Bearer 0123456789abcdef") == Principal(subject: "ops", role: .operator))

        func refusal(_ header: String?) async -> String? {
            do {
                _ = try await auth.principal(header)
                return nil
            } catch {
                #expect(error.slug == "unauthenticated" && error.challenge?.hasPrefix("Bearer") == true)
                return error.detail
            }
        }
        #expect(await refusal(nil)?.contains("no credentials") == true)
        #expect(await refusal("Token \(token)")?.contains("scheme") == true)
        #expect(await refusal("Bearer fedcba9876543210")?.contains("unknown API key") == true)
        let expired = try await GatewayTokens.sign(
            GatewayClaims(subject: "u-1", role: .user, expires: Date().addingTimeInterval(-1)), secret: secret)
        #expect(await refusal("Bearer \(expired)")?.contains("expired") == true)
        let badSubject = try await GatewayTokens.sign(
            GatewayClaims(subject: "a b", role: .user, expires: Date().addingTimeInterval(60)), secret: secret)
        #expect(await refusal("Bearer \(badSubject)")?.contains("sub") == true)
        let other = try await GatewayTokens.mint(
            secret: Array(repeating: 8, count: 32), subject: "u-1", role: .operator, ttl: .seconds(60))
        #expect(await refusal("Bearer \(other)")?.contains("signature") == true)

        // Without a secret, a JWT is refused as such; without keys, a key is not a token.
        let keysOnly = await GatewayAuth(secret: nil, apiKeys: APIKeys([:]))
        do {
            _ = try await keysOnly.principal("Bearer \(token)")
            Issue.record("a token accepted without a secret")
        } catch {
            #expect(error.detail.contains("API key"))
        }
    }

    @Test func apiKeysAreHeldAsDigestsNotInTheClear() throws {
        let keys = APIKeys(["0123456789abcdef": Principal(subject: "ops", role: .operator)])
        #expect(keys.count == 1)
        #expect(!String(reflecting: keys).contains("0123456789abcdef"))
        #expect(keys.principal(for: "0123456789abcdef") != nil)
        // A key that shares all but its last byte is as unknown as any other.
        #expect(keys.principal(for: "0123456789abcdeF") == nil)
        #expect(keys.principal(for: "0123456789abcdef ") == nil)
    }

    /// What SIGHUP does (`metro gateway`'s `HangupReloader`): a key added, a key revoked and the
    /// secret rotated take effect for the next request; a file that does not load
    /// changes nothing.
    @Test func aReloadPutsTheFilesInForceAndABadFileChangesNothing() async throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let secretPath = dir + "/secret"
        let keysPath = dir + "/keys"
        try GatewaySecret.generate(at: secretPath)
        try SecretFile.create(keysPath, text: "old-key-0123456789 ops operator\n")
        let auth = try #require(try await GatewayAuth.load(secretFile: secretPath, apiKeysFile: keysPath))
        let oldToken = try await GatewayTokens.mint(
            secret: try GatewaySecret.load(secretPath), subject: "u-1", role: .user, ttl: .seconds(60))
        #expect(try await auth.principal("Bearer old-key-0123456789") == Principal(subject: "ops", role: .operator))
        #expect(try await auth.principal("Bearer \(oldToken)") == Principal(subject: "u-1", role: .user))

        func refused(_ header: String) async -> Bool {
            do {
                _ = try await auth.principal(header)
                return false
            } catch {
                return error.slug == "unauthenticated"
            }
        }
        try FileManager.default.removeItem(atPath: keysPath)
        try SecretFile.create(keysPath, text: "new-key-0123456789 ada user\n")
        try FileManager.default.removeItem(atPath: secretPath)
        try GatewaySecret.generate(at: secretPath)
        // Nothing changes before the reload.
        #expect(try await auth.principal("Bearer old-key-0123456789") == Principal(subject: "ops", role: .operator))
        #expect(try await auth.reload() == .init(tokens: true, apiKeys: 1))
        #expect(await refused("Bearer old-key-0123456789"))
        #expect(await refused("Bearer \(oldToken)"))
        #expect(try await auth.principal("Bearer new-key-0123456789") == Principal(subject: "ada", role: .user))
        let newToken = try await GatewayTokens.mint(
            secret: try GatewaySecret.load(secretPath), subject: "u-2", role: .user, ttl: .seconds(60))
        #expect(try await auth.principal("Bearer \(newToken)") == Principal(subject: "u-2", role: .user))

        // A keys file others may read is refused, and what was in force stays.
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: keysPath)
        await #expect(throws: AuthFileError.self) { try await auth.reload() }
        #expect(try await auth.principal("Bearer new-key-0123456789") == Principal(subject: "ada", role: .user))
        #expect(try await auth.principal("Bearer \(newToken)") == Principal(subject: "u-2", role: .user))

        // Made from values, there are no files to read again: a reload keeps them.
        let fixed = await GatewayAuth(
            secret: nil, apiKeys: APIKeys(["fixed-key-0123456789": Principal(subject: "x", role: .user)]))
        #expect(try await fixed.reload() == .init(tokens: false, apiKeys: 1))
        #expect(try await fixed.principal("Bearer fixed-key-0123456789") == Principal(subject: "x", role: .user))
    }

    @Test func aTokenIsVerifiedOnceAndServedFromTheTableUntilItExpires() async throws {
        let secret = Array(repeating: UInt8(9), count: 32)
        let auth = await GatewayAuth(secret: secret, apiKeys: nil)
        let token = try await GatewayTokens.mint(secret: secret, subject: "u-1", role: .user, ttl: .seconds(60))
        for _ in 0..<3 {
            #expect(try await auth.principal("Bearer \(token)") == Principal(subject: "u-1", role: .user))
        }
        #expect(auth.credentials.verified.count == 1)
        // Refused tokens never get in.
        let forged = try await GatewayTokens.mint(
            secret: Array(repeating: 1, count: 32), subject: "u-1", role: .operator, ttl: .seconds(60))
        await #expect(throws: Problem.self) { try await auth.principal("Bearer \(forged)") }
        #expect(auth.credentials.verified.count == 1)

        // Past the entry's expiry, a hit is refused and dropped.
        let table = auth.credentials.verified
        let digest = VerifiedTokens.digest(token)
        #expect(table.lookup(digest, now: Date().addingTimeInterval(61)) == .expired)
        #expect(table.lookup(digest) == .miss)
    }

    @Test func theTableOfVerifiedTokensStaysBounded() {
        let table = VerifiedTokens(capacity: 4)
        let now = Date()
        let who = Principal(subject: "u", role: .user)
        for i in 0..<4 {
            table.insert(
                VerifiedTokens.digest("t\(i)"), .init(principal: who, expires: now.addingTimeInterval(i < 2 ? -1 : 60)))
        }
        // Full: the expired two go, the live two stay.
        table.insert(VerifiedTokens.digest("t4"), .init(principal: who, expires: now.addingTimeInterval(60)), now: now)
        #expect(table.count == 3)
        #expect(table.lookup(VerifiedTokens.digest("t3"), now: now) == .hit(who))
        table.insert(VerifiedTokens.digest("t5"), .init(principal: who, expires: now.addingTimeInterval(60)), now: now)
        // Full of live entries: all go, the new one stays.
        table.insert(VerifiedTokens.digest("t6"), .init(principal: who, expires: now.addingTimeInterval(60)), now: now)
        #expect(table.count == 1)
        #expect(table.lookup(VerifiedTokens.digest("t6"), now: now) == .hit(who))
    }

    @Test func accessRules() {
        let ada = Principal(subject: "ada", role: .user)
        let ops = Principal(subject: "ops", role: .operator)
        #expect(ada.mayActFor("ada") && !ada.mayActFor("bob"))
        #expect(ops.mayActFor("ada") && ops.mayActFor("bob"))
    }
}
