public import Foundation
public import JWTKit

/// Who is calling, once a credential was verified (`GatewayAuthenticator`):
/// the user id (`sub`) and what they may do (`role`). docs/gateway-auth.md has
/// the table of what each role may do on each route.
public struct Principal: Sendable, Equatable {
    /// A profile id (the `id` of `/v1/users/{id}`) for a user; any name for an operator.
    public var subject: String
    public var role: Role

    public init(subject: String, role: Role) {
        self.subject = subject
        self.role = role
    }

    /// Whether this principal may act for `userID`: their own id, or any id for an operator.
    public func mayActFor(_ userID: String) -> Bool {
        role == .operator || subject == userID
    }
}

/// The two roles: a `user` acts on their own profile, history, views and
/// uploads; an `operator` may do everything a user may, for any user, and sees
/// `/v1/services` and `/metrics`.
public enum Role: String, Sendable, Codable, CaseIterable {
    case user
    case `operator`
}

/// The claims of a gateway token (an HS256 JWT): `sub` the user id, `role`, and
/// `exp`, required and checked; `iat` is written by `GatewayTokens.mint` and not
/// needed. A token without `exp` does not decode, so it is refused.
public struct GatewayClaims: JWTPayload, Equatable {
    public var sub: SubjectClaim
    public var role: Role
    public var exp: ExpirationClaim
    public var iat: IssuedAtClaim?

    public init(subject: String, role: Role, expires: Date, issued: Date? = nil) {
        sub = SubjectClaim(value: subject)
        self.role = role
        exp = ExpirationClaim(value: expires)
        iat = issued.map { IssuedAtClaim(value: $0) }
    }

    /// Called by jwt-kit once the signature verified: the token must not have expired.
    public func verify(using algorithm: some JWTAlgorithm) async throws {
        guard exp.value > Date() else { throw TokenRefusal.expired }
        guard Principal.isValidSubject(sub.value) else { throw TokenRefusal.badSubject }
    }
}

/// Why a claim set is refused after its signature verified (the 401's `detail`).
enum TokenRefusal: Error {
    case expired
    case badSubject
}

extension Principal {
    /// A subject is an id as events.md §1 has them: 1–128 bytes, no white space or control characters.
    static func isValidSubject(_ s: String) -> Bool {
        (1...128).contains(s.utf8.count)
            && s.unicodeScalars.allSatisfy {
                !$0.properties.isWhitespace && !(0...0x1F).contains($0.value) && !(0x7F...0x9F).contains($0.value)
            }
    }
}

/// Minting tokens: `metro gateway-auth token`, and tests.
public enum GatewayTokens {
    /// An HS256 JWT for `subject` with `role`, valid for `ttl` from now (`iat` now).
    public static func mint(secret: [UInt8], subject: String, role: Role, ttl: Duration) async throws -> String {
        let now = Date()
        let seconds = Double(ttl.components.seconds) + Double(ttl.components.attoseconds) / 1e18
        return try await sign(
            GatewayClaims(subject: subject, role: role, expires: now.addingTimeInterval(seconds), issued: now),
            secret: secret)
    }

    /// `claims` signed with HS256 and `secret`, as they are (tests make expired ones).
    public static func sign(_ claims: GatewayClaims, secret: [UInt8]) async throws -> String {
        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        return try await keys.sign(claims)
    }
}
