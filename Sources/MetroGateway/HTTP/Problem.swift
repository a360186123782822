import Foundation
import HTTPTypes
public import Hummingbird
import MetroKit
import MetroProtocol

/// The gateway's one error shape: an RFC 9457 problem (`application/problem+json`).
/// Every refusal of every route is one of these; `ProblemMiddleware` turns any
/// other error into one too, so no response of the gateway has another error body.
///
/// Members: `type` (a URN naming the kind, `urn:metro:problem:<slug>`), `title`,
/// `status`, `detail`, `instance` (the request path) and the extensions
/// `requestId`, `field` (which field failed validation), `service` (the upstream
/// concerned), `retryAfterSeconds` (also sent as `Retry-After`), and for an
/// upload that was stored though its event is not yet published (503
/// `publish-pending`) `videoId` and `statusUrl`.
public struct Problem: Error, HTTPResponseError, Sendable, Equatable {
    public var status: HTTPResponse.Status
    public var slug: String
    public var title: String
    public var detail: String
    public var field: String?
    public var service: String?
    public var retryAfterSeconds: Int?
    /// The video an upload stored although the problem says it was not published.
    public var videoId: String?
    public var statusUrl: String?
    /// A 401's `WWW-Authenticate` challenge (RFC 9110 §11.6.1); not in the body.
    public var challenge: String?
    /// The upstream's rpc error code, when an rpc answer caused the problem; not in the body.
    var upstreamCode: WireErrorCode?

    public init(
        _ status: HTTPResponse.Status, _ slug: String, title: String, detail: String, field: String? = nil,
        service: String? = nil, retryAfterSeconds: Int? = nil
    ) {
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.field = field
        self.service = service
        self.retryAfterSeconds = retryAfterSeconds
    }

    public static let contentType = "application/problem+json"

    /// The response, with `requestId` (also in `X-Request-Id`, set by the middleware).
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        response(path: request.uri.path, requestID: (context as? GatewayContext)?.requestID)
    }

    func response(path: String, requestID: String?) -> Response {
        var body = Body(
            type: "urn:metro:problem:\(slug)", title: title, status: Int(status.code), detail: detail,
            instance: path, requestId: requestID, field: field, service: service,
            retryAfterSeconds: retryAfterSeconds, videoId: videoId, statusUrl: statusUrl)
        if body.detail.isEmpty { body.detail = title }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let bytes = (try? encoder.encode(body)) ?? Data()
        var headers: HTTPFields = [.contentType: Self.contentType]
        if let retryAfterSeconds { headers[.retryAfter] = String(retryAfterSeconds) }
        if let challenge { headers[.wwwAuthenticate] = challenge }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    struct Body: Codable {
        var type: String
        var title: String
        var status: Int
        var detail: String
        var instance: String
        var requestId: String?
        var field: String?
        var service: String?
        var retryAfterSeconds: Int?
        var videoId: String?
        var statusUrl: String?
    }
}

extension Problem {
    /// 400: a field of the request is invalid (`field` names it).
    static func invalid(_ field: String?, _ detail: String) -> Problem {
        Problem(.badRequest, "validation", title: "The request is invalid", detail: detail, field: field)
    }

    static func notFound(_ detail: String) -> Problem {
        Problem(.notFound, "not-found", title: "Not found", detail: detail)
    }

    /// 429: the upstream service's concurrency limit is reached; shed at once.
    static func shed(_ service: String) -> Problem {
        Problem(
            .tooManyRequests, "overloaded", title: "Too many requests",
            detail: "'\(service)' is at its concurrency limit; retry later", service: service, retryAfterSeconds: 1)
    }

    static func tooLarge(_ limit: Int) -> Problem {
        Problem(
            .contentTooLarge, "too-large", title: "The request body is too large",
            detail: "at most \(limit) bytes are accepted")
    }

    static func deadline(_ service: String?, _ detail: String) -> Problem {
        Problem(.gatewayTimeout, "deadline-exceeded", title: "The deadline passed", detail: detail, service: service)
    }

    /// The one place an rpc or publish error becomes HTTP: `MetroClientError.category`
    /// (its table) decides the status; an rpc 403 names its field, as the services
    /// write it ("field: reason").
    static func upstream(_ error: MetroClientError, service: String) -> Problem {
        var problem = mapped(error, service: service)
        problem.upstreamCode = error.wireCode
        return problem
    }

    private static func mapped(_ error: MetroClientError, service: String) -> Problem {
        let detail = error.wireError?.message ?? error.message
        switch error.category {
        case .invalid:
            let field = detail.firstIndex(of: ":").map { String(detail[..<$0]) }.flatMap {
                $0.contains(" ") ? nil : $0
            }
            return Problem(
                .badRequest, "validation", title: "The request is invalid", detail: detail, field: field,
                service: service)
        case .notFound:
            return Problem(.notFound, "not-found", title: "Not found", detail: detail, service: service)
        case .rejected:
            return Problem(.conflict, "conflict", title: "Conflict", detail: detail, service: service)
        case .timeout:
            return .deadline(service, "'\(service)' did not answer in time: \(detail)")
        case .unavailable:
            if error.wireCode == .publishPending {
                // The service committed (e.g. an upload's video) but the broker refuses
                // publishes: its event waits in the service's outbox (protocol.md §6.4).
                return Problem(
                    .serviceUnavailable, "publish-pending", title: "Not published: the broker refuses events",
                    detail: detail, service: service, retryAfterSeconds: 5)
            }
            if error.wireCode == .storageFailure {
                // The service's disk refused the write and nothing of it was stored
                // (protocol.md §6.4): an operator has to free space, so not too soon.
                return Problem(
                    .serviceUnavailable, "storage-failure", title: "The service could not store the request",
                    detail: detail, service: service, retryAfterSeconds: 5)
            }
            if error.code == .protocolViolation {
                return Problem(
                    .badGateway, "bad-upstream", title: "The upstream answered wrongly", detail: detail,
                    service: service)
            }
            let slug = error.code == .noInstance ? "no-instance" : "unavailable"
            return Problem(
                .serviceUnavailable, slug, title: "Service unavailable", detail: "\(error.code): \(detail)",
                service: service, retryAfterSeconds: 1)
        }
    }
}
