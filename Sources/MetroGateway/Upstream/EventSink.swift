import Foundation
import HTTPTypes
public import MetroKit

/// Publishes the events the gateway itself emits (`video.watched`) with MetroKit's
/// acknowledged `Publisher`: a 202 means the event is in the broker's journal. The
/// broker has a `ConcurrencyGate` like any upstream, and the publish is bounded by
/// the request's deadline (the publisher alone would retry for a minute).
public final class EventSink: Sendable {
    public let publisher: Publisher
    let gate: ConcurrencyGate
    let metrics: GatewayMetrics

    public init(publisher: Publisher, gate: ConcurrencyGate, metrics: GatewayMetrics = .init()) {
        self.publisher = publisher
        self.gate = gate
        self.metrics = metrics
    }

    /// Publishes `payload` on `topic` with headers `{"schema":..,"requestId":..}`;
    /// returns the broker's sequence number.
    func publish<T: Encodable>(topic: String, _ payload: T, schema: String, eventID: String, _ context: GatewayContext)
        async throws(Problem) -> UInt64
    {
        let payloadBytes: [UInt8]
        let headers: [UInt8]
        do {
            payloadBytes = Array(try JSONEncoder().encode(payload))
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            headers = Array(try encoder.encode(["schema": schema, "requestId": context.requestID]))
        } catch {
            throw Problem.invalid(nil, "the event could not be encoded: \(error)")
        }
        guard let permit = gate.acquire() else {
            metrics.shed(reason: "limit", service: "broker")
            throw Problem.shed("broker")
        }
        let publisher = self.publisher
        let remaining = context.remaining
        let result: Result<UInt64, any Error> = await withTaskGroup(of: Result<UInt64, any Error>?.self) { group in
            group.addTask {
                do {
                    return .success(
                        try await publisher.publish(
                            topic: topic, payload: payloadBytes, headers: headers, eventID: Array(eventID.utf8)))
                } catch { return .failure(error) }
            }
            group.addTask {
                try? await Task.sleep(for: remaining)
                return nil
            }
            let first = await group.next()!
            group.cancelAll()
            return first ?? .failure(MetroClientError(.timedOut, operation: "publish", message: "no ACK in time"))
        }
        switch result {
        case .success(let seq):
            gate.release(permit, .answered)
            metrics.upstreamCall(service: "broker", outcome: "ok")
            return seq
        case .failure(let error as MetroClientError):
            gate.release(permit, error.category == .timeout ? .dropped : .ignored)
            metrics.upstreamCall(service: "broker", outcome: "\(error.code)")
            throw Problem.upstream(error, service: "broker")
        case .failure(let error):
            gate.release(permit, .ignored)
            metrics.upstreamCall(service: "broker", outcome: "error")
            throw Problem(
                .serviceUnavailable, "unavailable", title: "Service unavailable", detail: "\(error)",
                service: "broker", retryAfterSeconds: 1)
        }
    }
}
