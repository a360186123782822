import Foundation
import MetroProtocol
import ZeroMQ

/// The consume socket: STATS and METRICS (protocol.md §4.5), replay (§4.9) and
/// consumer groups (§4.10).
/// Loop thread only.
extension BrokerEngine {
    func drainConsume() throws {
        // REPLAY, JOIN and STATS read the journal's written end: no held writes.
        try endBatch(force: true)
        let buffer = consumeBuffer
        var n = 0
        while n < batchLimit, try buffer.receive(from: consume) {
            n += 1
            let routingID = buffer.bytes(0)
            let reply: [[UInt8]]?
            // More frames than the buffer holds: the codec answers 101 with the context.
            switch ConsumeCodec.decodeRequest(buffer, offset: 1, discardedFrames: buffer.discardedFrames) {
            case .failure(let e):
                reply = IngestCodec.errorFrames(e.error, context: e.id.map { [$0] } ?? [])
            case .success(.stats):
                let json = (try? JSONEncoder().encode(stats)).map { [UInt8]($0) } ?? Array("{}".utf8)
                reply = [WireProtocol.versionBytes, Array("STATS".utf8), json]
            case .success(.metrics):
                reply = [
                    WireProtocol.versionBytes, Array("METRICS".utf8), Array(PrometheusText.render(stats).utf8),
                ]
            case .success(.replay(let request)):
                reply = startReplay(routingID: routingID, request)
            case .success(.credit(let id, let credit)):
                grantReplayCredit(routingID: routingID, id: id, credit: credit)
                reply = nil
            case .success(.group(let request)):
                reply = handleGroup(request, from: routingID)
            case .success(.cancel(let id)):
                cancelReplay(routingID: routingID, id: id)
                reply = nil
            }
            guard let reply else { continue }
            if reply[1] == IngestCodec.errorCommand { counters.rejected &+= 1 }
            send(to: consume, [routingID] + reply, onDrop: .replyUnroutable)
        }
    }
}
