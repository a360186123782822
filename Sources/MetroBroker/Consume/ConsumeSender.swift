import MetroProtocol
import ZeroMQ

/// Sends typed replies on the consume (ROUTER) socket without blocking, and says
/// what became of each: the group coordinator and the replay scheduler steer their
/// streams by it (a full queue waits, a gone client ends its replay or loses its
/// group membership).
///
/// Threading: owned by the broker's loop thread, which owns the socket.
final class ConsumeSender {
    enum Outcome {
        case queued
        /// The client's queue is full (its high-water mark): try again later.
        case full
        /// The client has disconnected (ROUTER_MANDATORY: unroutable).
        case gone
    }

    let socket: Socket

    init(socket: Socket) { self.socket = socket }

    /// Sends `reply` to the client `routing` (the routing id frame first).
    func send(_ reply: ConsumeCodec.Reply, to routing: [UInt8]) -> Outcome {
        do {
            return try socket.trySend(multipart: [routing] + reply.encode()) ? .queued : .full
        } catch {
            return .gone
        }
    }

    /// Sends an EVENT-PACKED whose records frame is `records` (§4.9.2), without
    /// copying it. `records` keeps its content unless the outcome is `.queued`.
    func sendPacked(id: [UInt8], records: inout Message, to routing: [UInt8]) -> Outcome {
        do {
            return try socket.trySend(multipart: [routing] + ReplayCodec.packedHead(id: id), last: &records)
                ? .queued : .full
        } catch {
            return .gone
        }
    }
}
