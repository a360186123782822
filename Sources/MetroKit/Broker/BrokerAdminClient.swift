import Foundation
package import MetroProtocol
package import ZeroMQ

/// Asks a broker's consume socket for its counters (protocol.md §4.5), and
/// deletes a consumer group (§4.10.3). Blocking,
/// for operator tools and tests: each call opens a DEALER on the calling thread,
/// sends one request, waits up to `timeout`, and closes the socket.
package struct BrokerAdminClient: Sendable {
    package let consumeEndpoint: String
    package let timeout: Duration
    /// CURVE to a secure broker (protocol.md §7); nil: plain ZMTP.
    package let curve: CurveCredentials?

    package init(consumeEndpoint: String, timeout: Duration = .seconds(3), curve: CurveCredentials? = nil) {
        self.consumeEndpoint = consumeEndpoint
        self.timeout = timeout
        self.curve = curve
    }

    package func stats() throws -> BrokerStats {
        let reply = try request(.stats)
        return try JSONDecoder().decode(BrokerStats.self, from: Data(reply))
    }

    package func metrics() throws -> String {
        String(decoding: try request(.metrics), as: UTF8.self)
    }

    /// Sends `command` and returns the reply's payload frame.
    package func request(_ command: ConsumeCodec.Command) throws -> [UInt8] {
        let operation = "broker \(command.rawValue)"
        let frames = try exchange(ConsumeCodec.requestFrames(command), operation: operation)
        guard frames.count == 3, frames[0] == WireProtocol.versionBytes, frames[1] == Array(command.rawValue.utf8)
        else {
            if case .error(let e, _)? = IngestCodec.decodeReply(frames) {
                throw MetroClientError.rejected(e, operation: operation)
            }
            throw MetroClientError(.protocolViolation, operation: operation, message: "unexpected reply")
        }
        return frames[2]
    }

    /// DELETE (protocol.md §4.10.3): removes consumer group `name`, which must have
    /// no member; returns what it held. A refusal (202 no such group, 108 it has
    /// members, 110 not permitted) is thrown as `rejected` with the broker's error.
    package func deleteGroup(_ name: String) throws -> GroupCodec.Deleted {
        let operation = "broker DELETE"
        let frames = try exchange(GroupCodec.Request.delete(group: name).frames, operation: operation)
        switch GroupCodec.decodeReply(frames) {
        case .deleted(let d)?: return d
        case .error(let e, _)?: throw MetroClientError.rejected(e, operation: operation)
        default: throw MetroClientError(.protocolViolation, operation: operation, message: "unexpected reply")
        }
    }

    /// SKIP-DAMAGED (protocol.md §4.10.4): moves `group` past the damaged record
    /// `seq` it stopped at.
    package func skipDamaged(_ group: String, seq: UInt64) throws -> GroupCodec.Skipped {
        let operation = "broker SKIP-DAMAGED"
        let frames = try exchange(GroupCodec.Request.skipDamaged(group: group, seq: seq).frames, operation: operation)
        switch GroupCodec.decodeReply(frames) {
        case .skipped(let s)?: return s
        case .error(let e, _)?: throw MetroClientError.rejected(e, operation: operation)
        default: throw MetroClientError(.protocolViolation, operation: operation, message: "unexpected reply")
        }
    }

    /// One request, one reply, on a DEALER opened for it.
    private func exchange(_ request: [[UInt8]], operation: String) throws -> [[UInt8]] {
        let context = try Context(ioThreads: 1, defaultLingerMilliseconds: 0)
        let socket = try context.socket(.dealer)
        defer { socket.close() }
        if let curve { try socket.makeCurveClient(curve) }
        let ms = Int(clamping: timeout.inMilliseconds)
        try socket.set(.receiveTimeout(milliseconds: ms))
        try socket.set(.sendTimeout(milliseconds: ms))
        try socket.connect(consumeEndpoint)
        try socket.send(multipart: request)
        guard let frames = try socket.receiveMultipart() else {
            throw MetroClientError(
                .timedOut, operation: operation, message: "no reply from \(consumeEndpoint) within \(timeout)")
        }
        return frames
    }
}
