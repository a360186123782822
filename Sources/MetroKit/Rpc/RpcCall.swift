import MetroProtocol

/// One call as the `RpcClientLoop` carries it, from `RpcClient.call` to its answer.
/// Made on the caller's task, then owned by the I/O thread.
struct RpcCall: Sendable {
    typealias Completion = @Sendable (Result<[UInt8], MetroClientError>) -> Void

    /// Unique per client; names the call for cancellation.
    let id: UInt64
    let method: String
    let idempotent: Bool
    let deadline: ContinuousClock.Instant
    /// The caller's headers, and their frame encoded on the caller's task (`{}` for
    /// none). An attempt on an instance the registry listed re-encodes them with its
    /// `target` (`frames`).
    let headers: RpcHeaders
    let headersFrame: [UInt8]
    let body: [UInt8]
    /// The instances the call may go to, as resolved for it (registry or fixed
    /// endpoints); only those with an endpoint.
    let targets: [RpcInstanceKey]
    let complete: Completion

    var operation: String { "rpc \(method)" }

    /// The REQUEST frames of one attempt (protocol.md §6.1), naming `target`'s
    /// incarnation in the headers when the registry gave one.
    func frames(requestID: UInt64, deadlineMilliseconds: UInt32, target: RpcInstanceKey) -> [[UInt8]] {
        var frame = headersFrame
        if let incarnation = target.target {
            var h = headers
            h.target = incarnation
            frame = h.encode()
        }
        return [
            WireProtocol.versionBytes, RpcCommand.request.frame, BigEndian.bytes(requestID), Array(method.utf8),
            BigEndian.bytes32(deadlineMilliseconds), frame, body,
        ]
    }
}

/// One attempt of a call on one instance, waiting for its answer on the I/O thread.
struct RpcAttempt {
    var call: RpcCall
    /// The connection it went out on.
    var target: RpcInstanceKey
    /// Attempts made so far, this one included.
    var number: Int
    /// Instances this call has gone to (a retry goes elsewhere).
    var tried: Set<RpcInstanceKey>
}

/// One incarnation of an instance: a restart with a new epoch is a new connection and
/// a new circuit.
struct RpcInstanceKey: Hashable, Sendable, CustomStringConvertible {
    let instance: String
    let epoch: UInt64
    let endpoint: String
    /// The CURVE public key the instance registered for its rpc socket
    /// (metadata `curve-public-key`, protocol.md §7.10); nil for a plain one.
    let curvePublicKey: String?
    /// `service/instance@epoch`, sent as each call's `target` header so that a process
    /// that took over the endpoint refuses the call (408); nil for fixed endpoints.
    let target: String?

    /// The instance's rpc endpoint is its first; nil when it has none. `service` is
    /// given for instances the registry listed (they get a `target`).
    init?(_ info: InstanceInfo, service: String? = nil) {
        guard let endpoint = info.endpoints.first else { return nil }
        instance = info.instance
        epoch = info.epoch
        self.endpoint = endpoint
        curvePublicKey = info.metadata[RpcServer.curvePublicKeyMetadata]
        target = service.map { RpcHeaders.target(service: $0, instance: info.instance, epoch: info.epoch) }
    }

    var description: String { instance == endpoint ? endpoint : "\(instance) (\(endpoint))" }
}

extension MetroClientError {
    /// The error a call ends with after `failure` on `target`, when it is not retried.
    static func rpc(
        _ failure: RpcAttemptFailure, call: RpcCall, target: RpcInstanceKey, wire: WireError?, attempts: Int
    ) -> MetroClientError {
        let op = call.operation
        let tries = attempts > 1 ? " (attempt \(attempts))" : ""
        switch failure {
        case .disconnected:
            let why =
                call.idempotent
                ? "and no other instance was left to retry on within the deadline"
                : "and \(call.method) is not idempotent, so it was not sent again; it may or may not have run"
            return MetroClientError(
                .disconnected, operation: op,
                message:
                    "the connection to \(target) broke (or the instance left) while the call was out\(tries), \(why)")
        case .notSent:
            return MetroClientError(
                .unreachable, operation: op,
                message:
                    "\(target) could not take the call\(tries) (not connected, or its send queue is full); nothing was sent"
            )
        case .timedOut:
            return MetroClientError(
                .deadlineExceeded, operation: op, message: "no answer from \(target) before the deadline\(tries)")
        case .remote(408):
            return MetroClientError(
                .unreachable, operation: op,
                message: "\(target) is another process now (\(wire?.message ?? "408 wrong-instance"))\(tries): the "
                    + "instance registered there is gone, and no other instance was left; nothing was run",
                wireError: wire)
        case .keyRefused(let status):
            return MetroClientError(
                .rejected, operation: op,
                message: "\(target) refused this client's CURVE key (ZAP status \(status))\(tries): its identity is "
                    + "not on the instance's allow-list (protocol.md §7.10); nothing was sent")
        case .remote:
            guard let wire else { preconditionFailure("a remote failure carries its wire error") }
            switch wire.code.rawValue {
            case 401:
                return MetroClientError(
                    .deadlineExceeded, operation: op, message: "\(target): \(wire.message)", wireError: wire)
            case 402:
                return MetroClientError(
                    .overloaded, operation: op, message: "\(target)\(tries): \(wire.message)", wireError: wire)
            default:
                return .rejected(wire, operation: op)
            }
        }
    }
}
