import Foundation
import MetroKit

/// `metro publish`'s acknowledged path: `count` events through one `Publisher`,
/// at most `window` waiting for their ACK, paced to `rate` per second (0: no
/// pacing). Each ACK's latency (from the publish call to the ACK) goes into the
/// stats; each failure is counted and its message printed once on stderr.
/// With `echo`, a single event's seq, id and payload are printed on stdout.
struct AckedStream: Sendable {
    let publisher: Publisher
    let topic: String
    let headers: [UInt8]
    let count: Int
    let rate: Double
    let window: Int
    let eventID: String?
    let echo: Bool
    /// Set by Ctrl-C: nothing more is sent.
    var interruption: PublishInterruption? = nil

    func run(_ initial: PayloadMaker, stats: PublishStats) async {
        var maker = initial
        let start = ContinuousClock.now
        await withTaskGroup(of: Void.self) { group in
            var inFlight = 0
            for i in 0..<count {
                if interruption?.isSet == true { break }
                if rate > 0 {
                    let due = start + .seconds(Double(i) / rate)
                    // In steps of at most 100 ms, so that Ctrl-C stops a slow rate at once.
                    while due > ContinuousClock.now && interruption?.isSet != true && !Task.isCancelled {
                        try? await Task.sleep(until: min(due, ContinuousClock.now + .milliseconds(100)))
                    }
                    if interruption?.isSet == true || Task.isCancelled { break }
                }
                if inFlight >= window {
                    await group.next()
                    inFlight -= 1
                    if interruption?.isSet == true { break }
                }
                let payload: [UInt8]
                do {
                    payload = try maker.next()
                } catch {
                    report(error, stats)
                    continue
                }
                let id = eventID ?? UUID().uuidString
                inFlight += 1
                stats.sent()
                group.addTask {
                    let sent = ContinuousClock.now
                    do {
                        let seq = try await publisher.publish(
                            topic: topic, payload: payload, headers: headers, eventID: Array(id.utf8))
                        let latency = ContinuousClock.now - sent
                        stats.acked(after: latency)
                        if echo {
                            let ms = String(format: "%.2f", Double(latency.inMicroseconds) / 1000)
                            print("acked \(topic) seq \(seq) id \(id) in \(ms) ms")
                            print(PayloadText.oneLine(payload))
                        }
                    } catch is CancellationError {
                        stats.unanswered()
                    } catch {
                        report(error, stats)
                    }
                }
            }
        }
    }

    private func report(_ error: any Error, _ stats: PublishStats) {
        if stats.failed("\(error)") { FileHandle.standardError.write(Data("error: \(error)\n".utf8)) }
    }
}

extension Duration {
    fileprivate var inMicroseconds: Int64 {
        components.seconds * 1_000_000 + components.attoseconds / 1_000_000_000_000
    }
}
