public import Hummingbird

/// One route as the gateway serves it: method, path template (OpenAPI's `{id}`
/// form, which Hummingbird also reads) and every status it can answer with.
/// docs/openapi.yaml must list exactly these (MetroGatewayTests checks it).
public struct RouteSpec: Hashable, Sendable, CustomStringConvertible {
    public var method: String
    public var path: String
    public var statuses: Set<Int>

    public var description: String { "\(method) \(path)" }

    /// Whether `path` (a request's) matches this template: same segments, `{x}` matching any one.
    func matches(_ path: String) -> Bool {
        let template = self.path.split(separator: "/")
        let actual = path.split(separator: "/")
        guard template.count == actual.count else { return false }
        return zip(template, actual).allSatisfy { t, a in t == a || (t.first == "{" && t.last == "}") }
    }

    /// The methods of the routes whose template matches `path`, sorted.
    static func methods(allowedAt path: String, in routes: [RouteSpec]) -> [String] {
        var methods = Set(routes.filter { $0.matches(path) }.map(\.method))
        if methods.contains("GET") { methods.insert("HEAD") }  // the router makes it from the GET
        return methods.sorted()
    }
}

/// Registers routes on the router and remembers them, with their statuses, so
/// that the document can be checked against what the server really serves.
/// Used while the router is built, on one task.
///
/// Every route but the open ones answers 401 and 403 too (docs/openapi.yaml lists
/// them), though only when authentication is on: then those routes go to a group
/// whose middleware is the authenticator, and their handler first checks the
/// route's `Access`. When it is off, the handler is registered as it is (the
/// benchmark's path is unchanged).
final class RouteTable {
    let router: Router<GatewayContext>
    /// The group of the routes that need a principal; nil when authentication is off.
    let authenticated: RouterGroup<GatewayContext>?
    let metrics: GatewayMetrics
    private(set) var all: [RouteSpec] = []

    init(_ router: Router<GatewayContext>, auth: GatewayAuth? = nil, metrics: GatewayMetrics = GatewayMetrics()) {
        self.router = router
        self.metrics = metrics
        authenticated = auth.map { router.group().add(middleware: GatewayAuthenticator(auth: $0, metrics: metrics)) }
    }

    /// Statuses every route may answer: a bad `X-Request-Id`/`X-Request-Timeout`
    /// (400) and the gateway's own failure (500).
    static let common: Set<Int> = [400, 500]
    /// Statuses of a route that calls an upstream: shed (429), bad upstream (502),
    /// no instance or unavailable (503), deadline (504).
    static let upstream: Set<Int> = common.union([429, 502, 503, 504])

    /// Statuses of a route that needs a principal: 401 (none, or one that does not verify), 403 (not this one).
    static let authenticated: Set<Int> = [401, 403]

    func add(
        _ method: HTTPRequest.Method, _ path: String, _ statuses: Set<Int>, access: Access,
        _ handler: @Sendable @escaping (Request, GatewayContext) async throws -> Response
    ) {
        if case .open = access {
            all.append(RouteSpec(method: method.rawValue, path: path, statuses: statuses))
            router.on(RouterPath(path), method: method, use: handler)
            return
        }
        all.append(RouteSpec(method: method.rawValue, path: path, statuses: statuses.union(Self.authenticated)))
        guard let authenticated else {
            router.on(RouterPath(path), method: method, use: handler)
            return
        }
        let metrics = self.metrics
        authenticated.on(RouterPath(path), method: method) { request, context in
            do {
                guard let principal = context.identity else { throw Problem.unauthenticated("no credentials") }
                try access.check(principal, request, context)
                return try await handler(request, context)
            } catch let problem as Problem where problem.status == .forbidden {
                metrics.shed(reason: "forbidden", service: "gateway")
                throw problem
            }
        }
    }
}
