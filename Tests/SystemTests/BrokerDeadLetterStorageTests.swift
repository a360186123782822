import Foundation
import MetroBroker
import MetroProtocol
import MetroTestKit
import Testing
import ZeroMQ

/// A dead letter is an event like any other (protocol.md §4.10): it gets its seq,
/// is journaled and is fanned out through the same path as a published event, so
/// a storage failure on that path means what it means for a publish (§4.2.7).
extension BrokerSystemTests {
    /// The dead letter is the first event past the reserved block of seqs (§4.1), so
    /// it makes the broker fsync `seq.reserve`, and that fsync fails with EIO. A
    /// failed sync leaves the disk's state unknown: the broker must stop with 74 as
    /// it does for a publish, not log the dead letter as lost and go on.
    @Test(.timeLimit(.minutes(5)))
    func aDeadLetterWhoseSeqReservationFailsToSyncStopsTheBrokerWith74() async throws {
        let faults = try FaultInjection(pathFilter: "seq.reserve")
        // Small segments and retention keep the journal at a few MiB: the million
        // filler events' pages are dropped with their deleted segments instead of
        // being written back while the next tests run.
        let brokerConfig = Self.groupConfig + "  segmentBytes: 1048576\n  retention:\n    maxBytes: 4194304\n"
        let broker = try await BrokerHarness(config: brokerConfig, environment: try faults.environment)
        // A fresh broker reserves seqs 1 ... 1 + blockSize: fill all but the last with
        // fire-and-forget events, and make the last one the group's poison.
        let poisonSeq = 1 + SequenceReservation.blockSize
        try await fill(broker, upTo: poisonSeq - 1)
        let ack = try await request(
            on: broker.ingest,
            IngestCodec.Publish(eventID: bytes("poison"), topic: "job.a", payload: bytes("bad")).frames)
        #expect(IngestCodec.decodeReply(ack) == .acks([.init(eventID: bytes("poison"), seq: poisonSeq)]))

        let member = try testContext.socket(.dealer)
        defer { member.close() }
        try member.set(.receiveTimeout(milliseconds: 10_000))
        try member.connect(broker.consume)
        let config = GroupCodec.Config(prefixes: ["job."], startSeq: poisonSeq, maxDeliveries: 1)
        try member.send(
            multipart: GroupCodec.Request.join(group: "workers", member: "m", credit: 1, config: config).frames)
        var delivered: UInt64?
        while delivered == nil, let frames = try await member.receiveOffPool() {
            if case .deliver(_, let seq, _, _)? = GroupCodec.decodeReply(frames) { delivered = seq }
        }
        #expect(delivered == poisonSeq)

        faults.failSyncs(true)
        // Its only delivery NAKed: dead-lettered at seq poisonSeq + 1, past the block.
        try member.send(multipart: GroupCodec.Request.nak(group: "workers", seq: poisonSeq, delayMs: 0).frames)
        try await eventually("the broker's exit", timeout: .seconds(20)) { !broker.process.isRunning }
        #expect(await broker.process.waitForExit(timeout: .seconds(1)) == BrokerEngine.exitStatusStorageFailure)
        #expect(await broker.process.stderrShows("faultinject: fdatasync EIO"))
        #expect(await broker.process.stderrShows("storage failure"))
    }

    /// Publishes fire-and-forget events until the broker's head seq is `last`,
    /// exactly: through an XPUB, which shows when the broker's XSUB has subscribed
    /// (a PUB would drop what it sends before that), with no send limit, and in
    /// chunks whose arrival is waited for (`eventually`: the wait holds no thread
    /// of the cooperative pool, which other tests' servers need meanwhile).
    private func fill(_ broker: BrokerHarness, upTo last: UInt64) async throws {
        let pub = try testContext.socket(.xpub)
        defer { pub.close() }
        try pub.set(.sendHighWaterMark(0))
        try pub.set(.receiveTimeout(milliseconds: 10_000))
        try pub.connect(broker.publish)
        guard try await pub.receiveOffPool() != nil else { throw WaitError.timedOut("the broker's subscription") }
        var sent = try await broker.stats().headSeq
        let chunk: UInt64 = 65_536
        while sent < last {
            let n = min(chunk, last - sent)
            for _ in 0..<n { try pub.send(multipart: [bytes("fill"), []]) }
            sent += n
            try await eventually("\(sent) events journaled", timeout: .seconds(60)) {
                try await broker.stats().headSeq == sent
            }
        }
    }
}
