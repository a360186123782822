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
        Set(routes.filter { $0.matches(path) }.map(\.method)).sorted()
    }
}

/// Registers routes on the router and remembers them, with their statuses, so
/// that the document can be checked against what the server really serves.
/// Used while the router is built, on one task.
final class RouteTable {
    let router: Router<GatewayContext>
    private(set) var all: [RouteSpec] = []

    init(_ router: Router<GatewayContext>) { self.router = router }

    /// Statuses every route may answer: a bad `X-Request-Id`/`X-Request-Timeout`
    /// (400) and the gateway's own failure (500).
    static let common: Set<Int> = [400, 500]
    /// Statuses of a route that calls an upstream: shed (429), bad upstream (502),
    /// no instance or unavailable (503), deadline (504).
    static let upstream: Set<Int> = common.union([429, 502, 503, 504])

    func add(
        _ method: HTTPRequest.Method, _ path: String, _ statuses: Set<Int>,
        _ handler: @Sendable @escaping (Request, GatewayContext) async throws -> Response
    ) {
        all.append(RouteSpec(method: method.rawValue, path: path, statuses: statuses))
        router.on(RouterPath(path), method: method, use: handler)
    }
}
