public import ArgumentParser
import Foundation
import MetroKit
import MetroProtocol

/// `metro consume`: joins a consumer group (protocol.md §4.10) and prints one line
/// per delivery, `<seq> <attempt> <event-id> <topic> <payload>` (`-` for the empty
/// id of a fire-and-forget event; the payload as text on one line, or `base64:...`
/// when it is not printable UTF-8), after a readiness line
/// `ready {"group": ...}`. An operator tool and the member process of the system
/// tests (which kill it with -9 while it holds deliveries). `--reject <event-id>`
/// sends the deliveries of those events to the dead-letter topic (REJECT) with
/// `--reject-reason`, instead of ACKing them: a way to clear a known poison event.
struct ConsumeCommand: MetroCommand {
    static let configuration = CommandConfiguration(
        commandName: "consume", abstract: "Join a consumer group and print what it delivers.")

    @Option(help: "The broker's consume endpoint.")
    var consume: String = "tcp://127.0.0.1:7704"
    @Option(
        help:
            "The group to join (created on first join; it stays after this command: metro broker delete-group removes it)."
    )
    var group: String
    @Option(help: "This member's name.")
    var member: String = "metro-consume-\(getpid())"
    @Option(name: .customLong("prefix"), help: "A topic prefix of the group (repeatable; when creating it).")
    var prefixes: [String] = []
    @Option(help: "Where a new group starts: earliest or latest.")
    var start: GroupStart = .earliest
    @Option(help: "ACK timeout of a new group, in milliseconds.")
    var ackTimeoutMs: Int = 30_000
    @Option(help: "Maximum deliveries of a new group before dead-lettering.")
    var maxDeliveries: Int = 5
    @Option(help: "Deliveries in flight at most (credit window).")
    var window: UInt32 = 100
    @Flag(help: "Never ACK: hold every delivery (for tests and demos of redelivery).")
    var noAck = false
    @Option(
        name: .customLong("reject"), help: "An event id to dead-letter at once (REJECT) when delivered (repeatable).")
    var rejectIDs: [String] = []
    @Option(help: "The reason a REJECT carries (at most 256 bytes of UTF-8; cut if longer).")
    var rejectReason: String = "rejected with metro consume"
    @Option(help: "Exit after this many deliveries (0: run until stopped).")
    var count: Int = 0
    @OptionGroup var keys: ClientKeyOptions
    @OptionGroup var global: GlobalOptions

    func run(_ process: ProcessBootstrap) async throws {
        let config = GroupCodec.Config(
            prefixes: prefixes, start: start, ackTimeoutMs: ackTimeoutMs, maxDeliveries: maxDeliveries)
        var options = Consumer.Options(consume: consume, group: group, member: member, config: config)
        options.window = window
        options.curve = try keys.load().broker
        let consumer = try Consumer(options)
        do {
            // SIGINT/SIGTERM end the loop; close() then LEAVEs the group at once,
            // instead of the broker finding the member lost heartbeats later.
            let secure = options.curve != nil
            try await untilSignal { try await serve(consumer, curve: secure) }
        } catch {
            await consumer.close()
            throw error
        }
        await consumer.close()
    }

    private func serve(_ consumer: Consumer, curve consumerCurve: Bool) async throws {
        let deliveries = consumer.deliveries  // starts the I/O thread, which JOINs
        // Joined within 3 s, or say once why not yet (a secure broker ignores a plain
        // client without a word), and go on waiting: the broker may start later.
        let asked = ContinuousClock.now
        var said = false
        while consumer.joins == 0 {
            try await Task.sleep(for: .milliseconds(10))
            if !said && ContinuousClock.now - asked > .seconds(3) {
                said = true
                let reason = ZMTPMechanismProbe.silenceReason(consume, curve: consumerCurve)
                FileHandle.standardError.write(
                    Data("waiting: the broker at \(consume) has not answered the JOIN of \(group)\(reason)\n".utf8))
            }
        }
        emit("ready {\"group\":\"\(group)\",\"member\":\"\(member)\"}")
        var n = 0
        let reject = Set(rejectIDs)
        for await d in deliveries {
            let id = String(decoding: d.event.eventID, as: UTF8.self)
            emit(
                "\(d.seq) \(d.attempt) \(id.isEmpty ? "-" : id) \(d.event.topic) \(PayloadText.oneLine(d.event.payload))"
            )
            if reject.contains(id) {
                consumer.reject(d, reason: rejectReason)
            } else if !noAck {
                consumer.ack(d)
            }
            n += 1
            if count > 0 && n >= count { break }
        }
    }

    /// One line to stdout, unbuffered (a test reads it while the process runs).
    private func emit(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }
}

/// `--start earliest|latest`: parsed as the protocol's enum, so a typo is refused here.
extension GroupStart: ExpressibleByArgument {}
