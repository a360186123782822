import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdAuth
import JWTKit

/// What the gateway checks credentials against: the HS256 key of its tokens
/// and/or the API keys. Made once at start (`load`); nil in
/// `GatewayConfiguration.auth` means authentication is off (every route open,
/// as before issue 19).
public struct GatewayAuth: Sendable {
    let tokens: JWTKeyCollection?
    let apiKeys: APIKeys?

    /// From the key's bytes (`GatewaySecret.load`) and/or the API keys.
    public init(secret: [UInt8]?, apiKeys: APIKeys?) async {
        if let secret {
            let keys = JWTKeyCollection()
            await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
            tokens = keys
        } else {
            tokens = nil
        }
        self.apiKeys = apiKeys
    }

    /// `metro gateway --auth-secret-file/--api-keys-file`: nil when neither is given.
    public static func load(secretFile: String?, apiKeysFile: String?) async throws(AuthFileError) -> GatewayAuth? {
        guard secretFile != nil || apiKeysFile != nil else { return nil }
        let secret = try secretFile.map { path throws(AuthFileError) in try GatewaySecret.load(path) }
        let keys = try apiKeysFile.map { path throws(AuthFileError) in try APIKeys.load(path) }
        return await GatewayAuth(secret: secret, apiKeys: keys)
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
        if credential.utf8.count(where: { $0 == 0x2E }) == 2 {
            return try await verify(token: credential)
        }
        guard let apiKeys, let principal = apiKeys.principal(for: credential) else {
            throw .unauthenticated(apiKeys == nil ? "not a token (header.payload.signature)" : "unknown API key")
        }
        return principal
    }

    private func verify(token: String) async throws(Problem) -> Principal {
        guard let tokens else { throw .unauthenticated("tokens are not accepted here; use an API key") }
        do {
            let claims = try await tokens.verify(token, as: GatewayClaims.self)
            return Principal(subject: claims.sub.value, role: claims.role)
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
