// Redelivery after a member is lost (issue 18, target 3): the time from the
// kill -9 of a real member process (`metro consume`, holding one event) to the
// first redelivery of that event to another member, p50 over several trials.
import Foundation
import MetroProtocol
import ZeroMQ

#if canImport(Glibc)
    import Glibc
#endif

/// A `metro consume` process that joins `group` with a window of 1 and never ACKs.
final class HoldingMember {
    let process = Process()
    private let out = Pipe()
    private var text = ""

    init(consume: String, group: String) throws {
        process.executableURL = here.appendingPathComponent("metro")
        process.arguments = [
            "consume", "--consume", consume, "--group", group, "--prefix", "late.", "--start", "latest", "--member",
            "holder", "--window", "1", "--no-ack", "--log-level", "error",
        ]
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        Interruption.started(pid: process.processIdentifier, dataDir: nil)
    }

    /// Blocks until the process has printed `lines` lines (its ready line, then one per delivery).
    func waitForLines(_ lines: Int) throws {
        while text.split(separator: "\n").count < lines {
            let data = out.fileHandleForReading.availableData
            if data.isEmpty { throw CocoaError(.fileReadUnknown) }
            text += String(decoding: data, as: UTF8.self)
        }
    }

    func kill9() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        Interruption.stopped(pid: process.processIdentifier)
    }
}

/// One trial: ms from the kill -9 of the member holding the event to its DELIVER
/// (attempt 2) at a raw DEALER member of the same group that waits with credit.
func redeliveryAfterKill(_ consume: String, ingest: String, group: String) throws -> Double {
    let holder = try HoldingMember(consume: consume, group: group)
    defer { if holder.process.isRunning { holder.kill9() } }
    try holder.waitForLines(1)
    let ctx = try Context(defaultLingerMilliseconds: 0)
    let other = try ctx.socket(.dealer)
    defer { other.close() }
    try other.set(.receiveTimeout(milliseconds: 500))
    try other.connect(consume)
    // Credit 0: the event goes to the holder; the survivor takes credit just before the kill.
    let config = GroupCodec.Config(prefixes: ["late."], start: .latest)
    try other.send(multipart: GroupCodec.Request.join(group: group, member: "other", credit: 0, config: config).frames)
    guard try other.receiveMultipart()?[1] == Array("JOINED".utf8) else { throw CocoaError(.coderReadCorrupt) }
    try preloadTopic(ingest, topic: "late.x")
    try holder.waitForLines(2)
    try other.send(multipart: GroupCodec.Request.grant(group: group, credit: 1).frames)
    // The GRANT is on the broker before the kill: the survivor's HEARTBEAT answer follows it.
    try other.send(multipart: GroupCodec.Request.heartbeat(group: group).frames)
    guard try other.receiveMultipart()?[1] == Array("HEARTBEAT".utf8) else { throw CocoaError(.coderReadCorrupt) }
    let start = ContinuousClock.now
    holder.kill9()
    // Waits in a blocking receive (no polling interval in the figure); HEARTBEAT
    // every 500 ms as a member must, for the old broker's 3 s.
    while true {
        if let f = try other.receiveMultipart() {
            if f[1] == Array("DELIVER".utf8) { break }
            continue
        }
        try other.send(multipart: GroupCodec.Request.heartbeat(group: group).frames)
        if ContinuousClock.now - start > .seconds(20) { throw CocoaError(.coderReadCorrupt) }
    }
    let d = ContinuousClock.now - start
    try other.send(multipart: GroupCodec.Request.leave(group: group).frames)
    return Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
}

/// `metro-broker-bench redelivery [--trials 9]`: the target-3 table alone.
func runRedeliveryBench() throws {
    let trials = max(1, option("--trials", 9))
    let broker = try Target.broker(fsync: "never")
    defer { broker.stop() }
    let ticks = machineCPUTicks()
    var ms: [Double] = []
    for t in 0..<trials {
        ms.append(
            try redeliveryAfterKill(
                broker.endpoints["consume"]!, ingest: broker.endpoints["ingest"]!, group: "kill\(t)"))
    }
    print("")
    print(
        "| redelivery after kill -9 of a member process (defaults: heartbeat 1 s) | p50 ms | min–max ms | target | trials | CPU steal % |"
    )
    print("|---|---|---|---|---|---|")
    print(
        String(
            format:
                "| `metro consume` holding 1 event, killed; a raw DEALER member waits with credit | %.0f | %.0f–%.0f | ≤ 300 | %d | %.1f |",
            median(ms), ms.min()!, ms.max()!, trials, stealPercent(ticks, machineCPUTicks())))
}
