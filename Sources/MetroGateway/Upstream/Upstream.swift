import Foundation
import HTTPTypes
import Hummingbird
import Logging
public import MetroKit
import MetroProtocol

/// One upstream service as the routes see it: its `RpcClient` (registry lookup,
/// least-outstanding balancing, retries of idempotent methods, breakers) behind
/// its `ConcurrencyGate`. Every call takes a permit first, so a slow service
/// gets at most its adaptive limit of requests in flight and the rest are shed
/// at once with 429; the call carries the request's id and remaining deadline.
///
/// Threading: `Sendable`; called from request handlers' tasks.
public final class Upstream: Sendable {
    public let service: String
    public let rpc: RpcClient
    public let gate: ConcurrencyGate
    let metrics: GatewayMetrics

    public init(service: String, rpc: RpcClient, gate: ConcurrencyGate, metrics: GatewayMetrics = .init()) {
        self.service = service
        self.rpc = rpc
        self.gate = gate
        self.metrics = metrics
    }

    /// Calls `method` with `request` (JSON), within the request's deadline, and
    /// returns the response body as the service sent it.
    func call<Request, Response>(
        _ method: RpcMethod<Request, Response>, _ request: Request, _ context: GatewayContext
    ) async throws(Problem) -> [UInt8] {
        let body: [UInt8]
        do {
            body = Array(try Self.encoder.encode(request))
        } catch {
            throw Problem.invalid(nil, "the request could not be encoded: \(error)")
        }
        return try await call(method.name, idempotent: method.idempotent, body: body, context)
    }

    /// Calls `method` and decodes its response (strictly, as `RpcClient` does).
    func value<Request, Response>(
        _ method: RpcMethod<Request, Response>, _ request: Request, _ context: GatewayContext
    ) async throws(Problem) -> (Response, [UInt8]) {
        try await value(method, request, context, reading: Response.self)
    }

    /// Calls `method` and decodes of its response only `Read`, the fields the
    /// route needs itself (the rest passes through as bytes): 502 when the
    /// response does not decode as `Read`. The user routes read the version for
    /// the ETag this way instead of decoding a whole `User` per request.
    func value<Request, Response, Read: Decodable>(
        _ method: RpcMethod<Request, Response>, _ request: Request, _ context: GatewayContext, reading: Read.Type
    ) async throws(Problem) -> (Read, [UInt8]) {
        let bytes = try await call(method, request, context)
        do {
            return (try Self.decoder.decode(Read.self, from: Data(bytes)), bytes)
        } catch {
            metrics.upstreamCall(service: service, outcome: "protocol-violation")
            throw Problem(
                .badGateway, "bad-upstream", title: "The upstream answered wrongly",
                detail: "\(method.name): the response does not decode: \(error)", service: service)
        }
    }

    /// Calls a method whose answer is a head and raw bytes (protocol.md §6.9):
    /// 502 when the answer is not of that form or its head does not decode.
    func bytes<Request, Head>(
        _ method: RpcBytesReplyMethod<Request, Head>, _ request: Request, _ context: GatewayContext
    ) async throws(Problem) -> RpcBytes<Head> {
        let body: [UInt8]
        do {
            body = Array(try Self.encoder.encode(request))
        } catch {
            throw Problem.invalid(nil, "the request could not be encoded: \(error)")
        }
        let answer = try await call(method.name, idempotent: method.idempotent, body: body, context)
        switch RpcBytes<Head>.decode(answer) {
        case .success(let value): return value
        case .failure(let error):
            metrics.upstreamCall(service: service, outcome: "protocol-violation")
            throw Problem(
                .badGateway, "bad-upstream", title: "The upstream answered wrongly",
                detail: "\(method.name): \(error.message)", service: service)
        }
    }

    /// Calls a method whose request is a head and raw bytes (protocol.md §6.9) and
    /// returns its answer as the service sent it.
    func call<Head, Response>(
        _ method: RpcBytesRequestMethod<Head, Response>, _ request: RpcBytes<Head>, _ context: GatewayContext
    ) async throws(Problem) -> [UInt8] {
        switch request.encode() {
        case .success(let body): return try await call(method.name, idempotent: method.idempotent, body: body, context)
        case .failure(let error): throw Problem.invalid(nil, "the request could not be encoded: \(error.message)")
        }
    }

    func call(_ method: String, idempotent: Bool, body: [UInt8], _ context: GatewayContext) async throws(Problem)
        -> [UInt8]
    {
        let remaining = context.remaining
        guard remaining > .zero else {
            metrics.upstreamCall(service: service, outcome: "deadline")
            throw Problem.deadline(service, "the request's deadline passed before '\(service)' was called")
        }
        guard let permit = gate.acquire() else {
            metrics.shed(reason: "limit", service: service)
            metrics.limit(service: service, gate.snapshot)
            context.logger.debug("shed: \(service) at its concurrency limit")
            throw Problem.shed(service)
        }
        do {
            let answer = try await rpc.call(
                method: method, body: body, idempotent: idempotent, deadline: remaining,
                headers: RpcHeaders(requestID: context.requestID))
            finish(permit, .answered, outcome: "ok")
            return answer
        } catch {
            let problem = Problem.upstream(error, service: service)
            finish(permit, Self.gateOutcome(error), outcome: error.wireCode.map { "\($0)" } ?? "\(error.code)")
            context.logger.debug("\(method) failed: \(error)")
            throw problem
        }
    }

    private func finish(_ permit: ConcurrencyGate.Permit, _ outcome: ConcurrencyGate.Outcome, outcome label: String) {
        let snapshot = gate.release(permit, outcome)
        metrics.upstreamCall(service: service, outcome: label)
        metrics.limit(service: service, snapshot)
    }

    /// One encoder and one decoder for every call: Foundation's are `Sendable` and
    /// keep their options under a lock, so sharing them saves an allocation and
    /// their setup per request.
    private static let encoder = JSONEncoder()
    private static let decoder = JSONDecoder()

    /// What a failed call tells the limit: a refusal on the merits is an answer
    /// (the service was fast enough to say no); a passed deadline or an
    /// overloaded service is a drop; the rest (a failure of the broker behind it,
    /// 407, included) says nothing about its latency.
    static func gateOutcome(_ error: MetroClientError) -> ConcurrencyGate.Outcome {
        if error.code == .deadlineExceeded || error.code == .overloaded { return .dropped }
        if error.code == .rejected {
            switch error.wireCode {
            case .overloaded?, .deadlineExceeded?: return .dropped
            case .internalError?, .unavailable?, .publishPending?: return .ignored
            // No wire code: refused before anything was sent (a CURVE key the
            // instances do not accept), which says nothing about their latency.
            case nil: return .ignored
            default: return .answered
            }
        }
        return .ignored
    }
}
