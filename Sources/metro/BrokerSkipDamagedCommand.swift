import ArgumentParser
import Foundation
import MetroKit
import MetroProtocol

/// `metro broker skip-damaged GROUP --seq N`: moves a consumer group past the
/// damaged journal record it stopped at (protocol.md §4.10.4). A group never
/// skips a record it cannot read on its own: it waits before it, and says so in
/// the log, in STATS (`stalled`), in `metro_group_stalled` and in `metro top`.
/// The first remedy is restoring the journal from `metro backup`; this is the
/// second, for when the event may be lost for this group. The seq must be the
/// one the broker names, so that a skip is always meant.
struct BrokerSkipDamagedCommand: MetroCommand {
    static let configuration = CommandConfiguration(
        commandName: "skip-damaged",
        abstract: "Move a consumer group past the damaged journal record it stopped at.",
        discussion: """
            The group loses that one event (other groups and replays are not affected). \
            The seq is in the broker's log line "group read failed", in `metro broker stats --groups` \
            and in STATS's `stalled`.
            """)

    @Argument(help: "The group's name.")
    var group: String
    @Option(help: "The damaged record's seq, as the broker names it.")
    var seq: UInt64
    @OptionGroup(title: "Broker (--consume, or endpoints.consume of --config, names the broker)")
    var broker: BrokerRunOptions
    var consume: String { broker.consumeEndpoint }
    @Option(help: "Give up after this many milliseconds.")
    var timeoutMs: Int = 3000
    @OptionGroup var keys: ClientKeyOptions
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        guard GroupCodec.validName(Array(group.utf8)) else {
            throw ValidationError("a group name is 1-64 of A-Z a-z 0-9 _ -")
        }
    }

    func run(_ process: ProcessBootstrap) async throws {
        let client = BrokerAdminClient(
            consumeEndpoint: consume, timeout: .milliseconds(timeoutMs), curve: try keys.load().broker)
        let skipped = try client.explained { try $0.skipDamaged(group, seq: seq) }
        print(
            "group \(skipped.group) moved past the damaged record \(skipped.seq) (\(skipped.segment), offset \(skipped.offset)): "
                + "that event is lost for this group; it reads on from the record after it")
    }
}
