import ArgumentParser
import Foundation
import MetroKit
import MetroProtocol

/// `metro broker delete-group NAME`: removes a consumer group that has no member
/// (protocol.md §4.10.3), with its position and pending set. Groups are durable
/// and a JOIN makes one, so a `metro consume` tried once, or a service taken out
/// of the system, leaves a group whose lag grows for good in `metro top`,
/// STATS and `metro_group_lag`. The journal keeps every event; a later JOIN of
/// that name makes a new group (from `start`).
struct BrokerDeleteGroupCommand: MetroCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete-group", abstract: "Delete a consumer group that has no member.")

    @Argument(help: "The group's name (GROUP in metro top, metro broker stats --groups).")
    var group: String
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
        let deleted = try client.explained { try $0.deleteGroup(group) }
        let prefixes = deleted.prefixes.isEmpty ? "every topic" : deleted.prefixes.joined(separator: " ")
        print(
            "deleted group \(deleted.group) (\(prefixes)): it had handed out up to seq \(deleted.position)"
                + (deleted.pending > 0 ? ", \(deleted.pending) events pending (dropped; the journal keeps them)" : ""))
    }
}
