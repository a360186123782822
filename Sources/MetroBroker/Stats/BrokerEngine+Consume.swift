import Foundation
import MetroProtocol
import ZeroMQ

/// The consume socket (protocol.md §4.5): STATS and METRICS in this version.
/// Loop thread only.
extension BrokerEngine {
    func drainConsume() throws {
        let buffer = consumeBuffer
        var n = 0
        while n < batchLimit, try buffer.receive(from: consume) {
            n += 1
            let routingID = buffer.bytes(0)
            let reply: [[UInt8]]
            if buffer.discardedFrames > 0 {
                reply = IngestCodec.errorFrames(WireError(.malformedMessage, "too many frames"))
            } else {
                switch ConsumeCodec.decide(buffer, offset: 1) {
                case .failure(let error):
                    reply = IngestCodec.errorFrames(error)
                case .success(.stats):
                    let json = (try? JSONEncoder().encode(stats)).map { [UInt8]($0) } ?? Array("{}".utf8)
                    reply = [WireProtocol.versionBytes, Array("STATS".utf8), json]
                case .success(.metrics):
                    reply = [
                        WireProtocol.versionBytes, Array("METRICS".utf8), Array(PrometheusText.render(stats).utf8),
                    ]
                }
            }
            if reply[1] == IngestCodec.errorCommand { counters.rejected &+= 1 }
            send(to: consume, [routingID] + reply, onDrop: .replyUnroutable)
        }
    }
}
