import Foundation
public import HTTPTypes
public import Hummingbird
import Logging
import MetroProtocol

/// Runs around every route (the router's only middleware): it fixes the request id
/// (`X-Request-Id`, accepted when it is 1–128 visible ASCII bytes, else generated)
/// and the deadline (`X-Request-Timeout` in milliseconds, capped by
/// `maxTimeout`), turns every error into a problem response (`Problem`), sets
/// `X-Request-Id` on every response, counts it (`GatewayMetrics`) and logs a line
/// with its id: at debug for each answer under 500, at warning for a 5xx, at most
/// once a second per route and status (`FailureLog`).
public struct GatewayMiddleware: RouterMiddleware {
    public typealias Context = GatewayContext

    let defaultTimeout: Duration
    let maxTimeout: Duration
    let metrics: GatewayMetrics
    /// Every route, to answer 405 with `Allow` for a known path and another method.
    let routes: [RouteSpec]
    let failures = FailureLog()

    public static let requestIDField = HTTPField.Name("X-Request-Id")!
    public static let timeoutField = HTTPField.Name("X-Request-Timeout")!

    public func handle(
        _ request: Request, context: GatewayContext, next: (Request, GatewayContext) async throws -> Response
    ) async throws -> Response {
        let start = ContinuousClock.now
        var context = context
        var response: Response
        var failure: Problem?
        do throws(Problem) {
            context.requestID = try Self.requestID(request.headers[Self.requestIDField])
            context.timeout = try timeout(request.headers[Self.timeoutField])
            context.deadline = start + context.timeout
        } catch let problem {
            context.requestID = RandomUUID.string()
            failure = problem
        }
        context.logger[metadataKey: "request-id"] = .string(context.requestID)
        if let failure {
            response = failure.response(path: request.uri.path, requestID: context.requestID)
        } else {
            do {
                response = try await next(request, context)
            } catch let problem as Problem {
                response = problem.response(path: request.uri.path, requestID: context.requestID)
            } catch let error as any HTTPResponseError {
                let allowed =
                    error.status == .notFound ? RouteSpec.methods(allowedAt: request.uri.path, in: routes) : []
                if allowed.isEmpty {
                    response = Self.problem(for: error.status).response(
                        path: request.uri.path, requestID: context.requestID)
                } else {
                    response = Problem(
                        .methodNotAllowed, "method-not-allowed", title: "Method not allowed",
                        detail: "\(request.uri.path) takes \(allowed.joined(separator: ", "))"
                    ).response(path: request.uri.path, requestID: context.requestID)
                    response.headers[.allow] = allowed.joined(separator: ", ")
                }
            } catch {
                context.logger.error("request failed: \(error)")
                response = Problem(
                    .internalServerError, "internal", title: "Internal error", detail: "the gateway failed: \(error)"
                ).response(path: request.uri.path, requestID: context.requestID)
            }
        }
        response.headers[Self.requestIDField] = context.requestID
        let elapsed = ContinuousClock.now - start
        let route = context.endpointPath ?? "unmatched"
        metrics.request(
            route: route, method: request.method.rawValue, status: Int(response.status.code), duration: elapsed)
        // Debug for the ordinary, a warning for the gateway's or an upstream's failure.
        let status = Int(response.status.code)
        if status < 500 {
            context.logger.debug(
                "\(request.method) \(request.uri.path) \(status)",
                metadata: ["route": .string(route), "ms": .stringConvertible(elapsed.milliseconds)])
        } else if let held = failures.allow(route: route, status: status) {
            context.logger.warning(
                "\(request.method) \(request.uri.path) \(status)",
                metadata: [
                    "route": .string(route), "ms": .stringConvertible(elapsed.milliseconds),
                    "same-since-last-line": "\(held)",
                ])
        }
        return response
    }

    /// Errors Hummingbird raises itself (no route, a body over a limit), as problems.
    static func problem(for status: HTTPResponse.Status) -> Problem {
        switch status {
        case .notFound: .notFound("no such route")
        case .contentTooLarge:
            Problem(.contentTooLarge, "too-large", title: "The request body is too large", detail: "")
        case .methodNotAllowed:
            Problem(.methodNotAllowed, "method-not-allowed", title: "Method not allowed", detail: "")
        default: Problem(status, "http", title: status.reasonPhrase, detail: "")
        }
    }

    static func requestID(_ header: String?) throws(Problem) -> String {
        guard let header else { return RandomUUID.string() }
        guard (1...128).contains(header.utf8.count), header.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            throw .invalid("X-Request-Id", "X-Request-Id: 1–128 visible ASCII characters")
        }
        return header
    }

    func timeout(_ header: String?) throws(Problem) -> Duration {
        guard let header else { return min(defaultTimeout, maxTimeout) }
        guard !header.isEmpty, header.utf8.allSatisfy({ (0x30...0x39).contains($0) }),
            header.contains(where: { $0 != "0" })
        else {
            throw .invalid("X-Request-Timeout", "X-Request-Timeout: a positive number of milliseconds")
        }
        // More digits than an Int holds is still a valid (huge) timeout: the cap applies.
        guard let ms = Int(header) else { return maxTimeout }
        return min(.milliseconds(ms), maxTimeout)
    }
}

extension Duration {
    /// Whole milliseconds, for logs and headers.
    var milliseconds: Int64 {
        let c = components
        return c.seconds * 1000 + c.attoseconds / 1_000_000_000_000_000
    }
}
