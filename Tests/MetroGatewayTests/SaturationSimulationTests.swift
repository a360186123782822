import MetroGateway
import MetroTestKit
import Testing

/// The limit in a closed loop with a saturated service, the way wrk drives the
/// gateway in Benchmarks/gateway-bench: `clients` connections, each sending its
/// next request as soon as the last is answered (or shed), to a service that
/// answers `throughput` requests a second, one after another (FIFO), plus a
/// fixed `latency`. Past saturation, letting every request in only queues them:
/// the round trip is the number in flight over the throughput.
struct SaturatedService {
    var clients: Int
    var throughput = 2_000.0
    var latency = 0.000_5
    /// How long a shed request takes the client to see its 429 and send again.
    var shedTurnaround = 0.001

    struct Result {
        var served = 0
        var shed = 0
        var rtts: [Double] = []
        var shedShare: Double { Double(shed) / Double(max(1, served + shed)) }
        func p99() -> Double {
            let sorted = rtts.sorted()
            return sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * 0.99))]
        }
    }

    /// Runs `seconds` of simulated time from `start` on `limit`; counts only the
    /// part after `warmUp` seconds. Returns the result and the time it ended at.
    func run(_ limit: inout AdaptiveLimit, from start: Double, seconds: Double, warmUp: Double) -> (Result, Double) {
        var next = [Double](repeating: start, count: clients)  // when each client acts next
        var sentAt = [Double?](repeating: nil, count: clients)  // its request in flight, if any
        var serverFree = start
        var result = Result()
        let end = start + seconds
        while true {
            let i = next.indices.min { next[$0] < next[$1] }!
            let now = next[i]
            if now >= end { break }
            let counted = now >= start + warmUp
            if let sent = sentAt[i] {
                limit.release(.answered(rtt: .seconds(now - sent), at: .seconds(now)))
                if counted {
                    result.served += 1
                    result.rtts.append(now - sent)
                }
                sentAt[i] = nil
            }
            if limit.acquire() {
                sentAt[i] = now
                serverFree = max(now, serverFree) + 1 / throughput
                next[i] = serverFree + latency
            } else {
                if counted { result.shed += 1 }
                next[i] = now + shedTurnaround
            }
        }
        for i in sentAt.indices where sentAt[i] != nil { limit.release(.ignored) }
        return (result, end)
    }
}

/// Issue 17, "past saturation": with twice the saturating connections the limit
/// sheds, so that the requests it serves keep (nearly) the latency of the
/// saturated service, instead of letting every connection in to queue. In this
/// model the service saturates at about one request in flight, so 16 clients
/// are already past it and the limit sheds there too; what counts is that the
/// service stays busy and the served latency does not grow with the clients.
@Suite struct SaturationSimulationTests {
    // The simulations compute for about a second each in a debug build: they
    // run on a thread of their own (`offPool`), not on one of the cooperative
    // pool's two, where the system tests beside them wait for a thread
    // (docs/performance.md, "The test suite starves itself").

    /// The plain gradient (no latency floor).
    @Test func pastSaturationTheLimitShedsAndKeepsTheServedLatency() async throws {
        let (atOne, atTwo, final) = try await offPool("saturation-simulation") {
            var plain = AdaptiveLimit.Configuration()
            plain.latencyFloor = .zero
            var limit = AdaptiveLimit(plain)
            let (atOne, t1) = SaturatedService(clients: 16).run(&limit, from: 0, seconds: 5, warmUp: 1)
            let (atTwo, _) = SaturatedService(clients: 32).run(&limit, from: t1, seconds: 5, warmUp: 1)
            return (atOne, atTwo, limit.limit)
        }
        let note =
            "1×: shed \(atOne.shedShare), p99 \(atOne.p99()); 2×: shed \(atTwo.shedShare), p99 \(atTwo.p99()), limit \(final)"
        // Letting all in, 16 clients would queue 8 ms at 2,000/s, and 32 clients 16 ms.
        #expect(atTwo.shed > 0, "\(note)")
        #expect(atOne.p99() < 0.008 * 0.75, "\(note)")
        #expect(atTwo.p99() < atOne.p99() * 1.4, "\(note)")
        #expect(atTwo.p99() < 0.016 * 0.5, "\(note)")
        #expect(Double(atTwo.served) > Double(atOne.served) * 0.98, "the service stays busy: \(note)")
        #expect(Double(atOne.served) > 4 * 2_000 * 0.98, "the service stays busy: \(note)")
    }

    /// With the default 5 ms latency floor the limit lets the queue grow to about
    /// the floor plus `queueSize` requests (5 + 2 ms at 2,000/s) before it sheds:
    /// at 32 clients (16 ms if all were let in) it still sheds, and the served
    /// p99 stays under three quarters of the unlimited round trip.
    @Test func withTheDefaultFloorTheServedLatencyStaysNearTheFloor() async throws {
        let (floor, atTwo, final) = try await offPool("saturation-simulation") {
            var limit = AdaptiveLimit()
            let floor = limit.configuration.latencyFloor
            let (atTwo, _) = SaturatedService(clients: 32).run(&limit, from: 0, seconds: 6, warmUp: 1)
            return (floor, atTwo, limit.limit)
        }
        #expect(floor == .milliseconds(5))
        let note = "shed \(atTwo.shedShare), p99 \(atTwo.p99()), limit \(final)"
        #expect(atTwo.shed > 0, "\(note)")
        #expect(atTwo.p99() < 0.016 * 0.75, "\(note)")
        #expect(Double(atTwo.served) > 5 * 2_000 * 0.98, "the service stays busy: \(note)")
    }

    /// Below saturation the service answers at its own latency: nothing is shed.
    @Test func belowSaturationNothingIsShed() async throws {
        let r = try await offPool("saturation-simulation") {
            var limit = AdaptiveLimit()
            return SaturatedService(clients: 4, throughput: 20_000).run(&limit, from: 0, seconds: 5, warmUp: 1).0
        }
        #expect(r.shed == 0 && r.served > 1000)
    }
}
