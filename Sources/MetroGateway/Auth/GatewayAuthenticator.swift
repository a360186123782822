import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdAuth
import JWTKit
import Synchronization

/// What the gateway checks credentials against: the HS256 key of its tokens
/// and/or the API keys. Made once at start (`load`); nil in
/// `GatewayConfiguration.auth` means authentication is off (every route open,
/// as before issue 19).
///
/// `reload()` (on SIGHUP: `metro gateway` runs a `HangupReloader` of it) reads the files again and puts
/// them in force for the next request, so that a key is added, revoked or the
/// secret rotated without a restart. A file that does not load leaves what is in
/// force as it was. Requests read the credentials under a lock, one copy each.
public final class GatewayAuth: Sendable {
    /// One consistent set: a reload swaps both at once.
    struct Credentials: Sendable {
        let tokens: JWTKeyCollection?
        let apiKeys: APIKeys?
        /// The tokens that verified against `tokens` (their secret's, so a new secret starts empty).
        let verified = VerifiedTokens()

        init(secret: [UInt8]?, apiKeys: APIKeys?) async {
            if let secret {
                let keys = JWTKeyCollection()
                await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
                tokens = keys
            } else {
                tokens = nil
            }
            self.apiKeys = apiKeys
        }

        static func read(secretFile: String?, apiKeysFile: String?) async throws(AuthFileError) -> Credentials {
            let secret = try secretFile.map { path throws(AuthFileError) in try GatewaySecret.load(path) }
            let keys = try apiKeysFile.map { path throws(AuthFileError) in try APIKeys.load(path) }
            return await Credentials(secret: secret, apiKeys: keys)
        }
    }

    private let inForce: Mutex<Credentials>
    /// The files `load` read (nil when made from values): `reload()` reads them again.
    let secretFile: String?
    let apiKeysFile: String?

    var credentials: Credentials { inForce.withLock { $0 } }

    /// From the key's bytes (`GatewaySecret.load`) and/or the API keys; `reload()` does nothing.
    public convenience init(secret: [UInt8]?, apiKeys: APIKeys?) async {
        self.init(await Credentials(secret: secret, apiKeys: apiKeys), secretFile: nil, apiKeysFile: nil)
    }

    init(_ credentials: Credentials, secretFile: String?, apiKeysFile: String?) {
        inForce = Mutex(credentials)
        self.secretFile = secretFile
        self.apiKeysFile = apiKeysFile
    }

    /// `metro gateway --auth-secret-file/--api-keys-file`: nil when neither is given.
    public static func load(secretFile: String?, apiKeysFile: String?) async throws(AuthFileError) -> GatewayAuth? {
        guard secretFile != nil || apiKeysFile != nil else { return nil }
        let credentials = try await Credentials.read(secretFile: secretFile, apiKeysFile: apiKeysFile)
        return GatewayAuth(credentials, secretFile: secretFile, apiKeysFile: apiKeysFile)
    }

    /// What a reload put in force, for the log line.
    public struct Reloaded: Sendable, Equatable {
        /// Whether tokens are accepted (a secret file was given and loaded).
        public var tokens: Bool
        /// The number of API keys, nil when there is no keys file.
        public var apiKeys: Int?
    }

    /// Reads the files `load` read again and puts them in force for the next
    /// request (tokens signed with a replaced secret and removed API keys are
    /// refused from then on). Throws, changing nothing, when a file does not load.
    /// Made from values (no files), it keeps them.
    @discardableResult
    public func reload() async throws(AuthFileError) -> Reloaded {
        var fresh = credentials
        if secretFile != nil || apiKeysFile != nil {
            fresh = try await Credentials.read(secretFile: secretFile, apiKeysFile: apiKeysFile)
            inForce.withLock { [fresh] in $0 = fresh }
        }
        return Reloaded(tokens: fresh.tokens != nil, apiKeys: fresh.apiKeys?.count)
    }

    /// Longer `Authorization` values are refused unread: no token of the gateway is near it.
    static let maxCredentialBytes = 4096

    /// The principal of an `Authorization` header, or the 401 saying why not.
    func principal(_ authorization: String?) async throws(Problem) -> Principal {
        guard let authorization else { throw .unauthenticated("no credentials: send Authorization: Bearer <token>") }
        guard authorization.utf8.count <= Self.maxCredentialBytes else {
            throw .unauthenticated("the Authorization header is over \(Self.maxCredentialBytes) bytes")
        }
        // RFC 9110 §11.1: the scheme is case-insensitive, one space or more before the credential.
        let parts = authorization.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw .unauthenticated("the Authorization scheme must be Bearer")
        }
        let credential = parts[1].trimmingCharacters(in: .whitespaces)
        let inForce = credentials
        if credential.utf8.count(where: { $0 == 0x2E }) == 2 {
            return try await verify(token: credential, with: inForce)
        }
        guard let apiKeys = inForce.apiKeys, let principal = apiKeys.principal(for: credential) else {
            throw .unauthenticated(
                inForce.apiKeys == nil ? "not a token (header.payload.signature)" : "unknown API key")
        }
        return principal
    }

    /// The token's principal: from the table of verified tokens, else verified
    /// (signature, `exp`, `sub`) and put in the table.
    private func verify(token: String, with inForce: Credentials) async throws(Problem) -> Principal {
        guard let tokens = inForce.tokens else {
            throw .unauthenticated("tokens are not accepted here; use an API key")
        }
        let digest = VerifiedTokens.digest(token)
        switch inForce.verified.lookup(digest) {
        case .hit(let principal): return principal
        case .expired: throw .unauthenticated("the token expired")
        case .miss: break
        }
        do {
            let claims = try await tokens.verify(token, as: GatewayClaims.self)
            let principal = Principal(subject: claims.sub.value, role: claims.role)
            inForce.verified.insert(digest, .init(principal: principal, expires: claims.exp.value))
            return principal
        } catch TokenRefusal.expired {
            throw .unauthenticated("the token expired")
        } catch TokenRefusal.badSubject {
            throw .unauthenticated("the token's sub is not a user id")
        } catch let error as JWTError where error.errorType == .signatureVerificationFailed {
            throw .unauthenticated("the token's signature does not verify")
        } catch {
            throw .unauthenticated("not a valid token (an HS256 JWT with sub, role and exp)")
        }
    }
}

/// Hummingbird-auth's authenticator middleware, on the routes that need a
/// principal (a router group of their own, so `/healthz` and `/readyz` never
/// read `Authorization`): it sets `context.identity`, or answers 401 with
/// `WWW-Authenticate: Bearer` (counted as `metro_gateway_shed_total{reason="unauthenticated"}`).
struct GatewayAuthenticator: AuthenticatorMiddleware {
    typealias Context = GatewayContext
    let auth: GatewayAuth
    let metrics: GatewayMetrics

    func authenticate(request: Request, context: GatewayContext) async throws -> Principal? {
        do {
            return try await auth.principal(request.headers[.authorization])
        } catch {
            metrics.shed(reason: "unauthenticated", service: "gateway")
            throw error
        }
    }
}

/// Who may call a route (docs/gateway-auth.md). Checked after authentication;
/// a principal that may not gets 403 (`metro_gateway_shed_total{reason="forbidden"}`).
enum Access: Sendable {
    /// No credential is read (`/healthz`, `/readyz`).
    case open
    /// Any principal (the video catalogue; views check their body's `userId` in the handler).
    case anyPrincipal
    /// Operators only (`/v1/services`, `/metrics`, `POST /v1/users`).
    case operatorOnly
    /// The user named by the path parameter, or an operator.
    case userInPath(String)
    /// The user named by the query parameter (when present: the handler answers 400 when it is missing), or an operator.
    case userInQuery(String)

    /// The 403, if `principal` may not call the route of `request`/`context`.
    func check(_ principal: Principal, _ request: Request, _ context: GatewayContext) throws(Problem) {
        switch self {
        case .open, .anyPrincipal:
            return
        case .operatorOnly:
            guard principal.role == .operator else { throw .forbidden("only an operator may call this route") }
        case .userInPath(let name):
            if let id = context.parameters.get(name), !principal.mayActFor(id) {
                throw .forbidden("a user may act only on their own id (\(name))")
            }
        case .userInQuery(let name):
            if let id = request.query(name), !principal.mayActFor(id) {
                throw .forbidden("a user may act only on their own id (\(name))")
            }
        }
    }
}

extension GatewayContext {
    /// For a handler whose user is in its body (a view's `userId`): 403 unless the
    /// principal may act for `userID`. Nothing to check when authentication is off.
    func requireActing(for userID: String, field: String) throws(Problem) {
        guard let identity else { return }
        guard identity.mayActFor(userID) else { throw .forbidden("a user may act only on their own id (\(field))") }
    }
}

extension Problem {
    /// 401: no credential, or one that does not verify; `WWW-Authenticate: Bearer`.
    static func unauthenticated(_ detail: String) -> Problem {
        var p = Problem(.unauthorized, "unauthenticated", title: "Authentication required", detail: detail)
        p.challenge = "Bearer realm=\"metro\""
        return p
    }

    /// 403: authenticated, but this principal may not do this.
    static func forbidden(_ detail: String) -> Problem {
        Problem(.forbidden, "forbidden", title: "Forbidden", detail: detail)
    }
}
