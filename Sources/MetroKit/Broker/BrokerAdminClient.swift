import Foundation
package import MetroProtocol
package import ZeroMQ

/// Asks a broker's consume socket for its counters (protocol.md §4.5). Blocking,
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
        let context = try Context(ioThreads: 1, defaultLingerMilliseconds: 0)
        let socket = try context.socket(.dealer)
        defer { socket.close() }
        if let curve { try socket.makeCurveClient(curve) }
        let ms = Int(clamping: timeout.inMilliseconds)
        try socket.set(.receiveTimeout(milliseconds: ms))
        try socket.set(.sendTimeout(milliseconds: ms))
        try socket.connect(consumeEndpoint)
        try socket.send(multipart: ConsumeCodec.requestFrames(command))
        guard let frames = try socket.receiveMultipart() else {
            throw MetroClientError(
                .timedOut, operation: "broker \(command.rawValue)",
                message: "no reply from \(consumeEndpoint) within \(timeout)")
        }
        guard frames.count == 3, frames[0] == WireProtocol.versionBytes, frames[1] == Array(command.rawValue.utf8)
        else {
            if case .error(let e, _)? = IngestCodec.decodeReply(frames) {
                throw MetroClientError.rejected(e, operation: "broker \(command.rawValue)")
            }
            throw MetroClientError(
                .protocolViolation, operation: "broker \(command.rawValue)", message: "unexpected reply")
        }
        return frames[2]
    }
}
