import ArgumentParser
import Foundation
import MetroKit
import MetroProtocol

/// `metro services`: the registry's view as a table, as JSON (`--json`), or followed
/// live (`--watch`, from the broker's events when `--events` is given, else by polling LIST).
struct ServicesCommand: MetroCommand {
    static let configuration = CommandConfiguration(
        commandName: "services", abstract: "Show the services and instances the registry knows.")

    @Option(name: .customLong("registry"), help: "Registry endpoint (repeat for a fallback).")
    var registries: [String] = ["tcp://127.0.0.1:7400"]

    @Flag(help: "Print JSON (one LIST result; with --watch one event per line).")
    var json = false

    @Flag(help: "Follow membership changes until interrupted.")
    var watch = false

    @Option(help: "The broker's events (XPUB) endpoint, for --watch without polling.")
    var events: String?

    @Option(name: .customLong("interval-ms"), help: "Polling interval for --watch without --events.")
    var interval = 1000

    @Option(name: .customLong("timeout-ms"), help: "Per-attempt request timeout.")
    var timeout = 1000

    @OptionGroup var global: GlobalOptions

    func run(_ process: ProcessBootstrap) async throws {
        let client = try RegistryClient(
            configuration: .init(
                endpoints: registries, requestTimeout: .milliseconds(timeout), attempts: 2, eventsEndpoint: events))
        do {
            try await show(client)
            await client.close()
        } catch {
            await client.close()
            throw error
        }
    }

    private func show(_ client: RegistryClient) async throws {
        let eventStream = watch && events != nil ? client.membershipEvents() : nil
        var current = try await client.list()
        if json && !watch {
            print(String(decoding: RegistryJSON.encode(ListResult(instances: current)), as: UTF8.self))
            return
        }
        if !json { print(ServicesTable.render(current)) }
        guard watch else { return }
        if let eventStream {
            for await event in eventStream {
                if json {
                    print(String(decoding: RegistryJSON.encode(event), as: UTF8.self))
                } else {
                    print(
                        "\(event.kind.rawValue.padding(toLength: 13, withPad: " ", startingAt: 0)) \(event.service) \(event.instance) \(event.endpoints.joined(separator: ","))"
                    )
                }
                fflushStdout()
            }
            return
        }
        while !Task.isCancelled {
            try await Task.sleep(for: .milliseconds(interval))
            let next = try await client.list()
            let before = Dictionary(
                current.map { ("\($0.service)/\($0.instance)", $0) }, uniquingKeysWith: { a, _ in a })
            let after = Dictionary(next.map { ("\($0.service)/\($0.instance)", $0) }, uniquingKeysWith: { a, _ in a })
            for (k, s) in after.sorted(by: { $0.key < $1.key }) where before[k]?.epoch != s.epoch {
                print(
                    json
                        ? String(decoding: RegistryJSON.encode(s), as: UTF8.self)
                        : "registered    \(k) \(s.endpoints.joined(separator: ","))")
            }
            for (k, s) in before.sorted(by: { $0.key < $1.key }) where after[k] == nil {
                print(json ? "{\"gone\":\"\(k)\"}" : "gone          \(k) \(s.endpoints.joined(separator: ","))")
            }
            fflushStdout()
            current = next
        }
    }
}

func fflushStdout() { _ = fflush(nil) }

/// Renders LIST results as an aligned text table.
enum ServicesTable {
    static func render(_ instances: [InstanceStatus]) -> String {
        let header = ["SERVICE", "INSTANCE", "ENDPOINT", "AGE", "LEASE LEFT", "METADATA"]
        let rows = instances.map { s in
            [
                s.service, s.instance, s.endpoints.joined(separator: ","), duration(s.ageMilliseconds),
                duration(s.leaseLeftMilliseconds),
                s.metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","),
            ]
        }
        var widths = header.map(\.count)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        let lines = ([header] + rows).map { row in
            row.enumerated().map { i, cell in
                i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
        let footer =
            "\(instances.count) instance\(instances.count == 1 ? "" : "s") of \(Set(instances.map(\.service)).count) service\(Set(instances.map(\.service)).count == 1 ? "" : "s")"
        return (lines + [footer]).joined(separator: "\n")
    }

    static func duration(_ ms: UInt64) -> String {
        if ms < 1000 { return "\(ms)ms" }
        if ms < 60_000 { return String(format: "%.1fs", Double(ms) / 1000) }
        if ms < 3_600_000 { return "\(ms / 60_000)m\((ms / 1000) % 60)s" }
        return "\(ms / 3_600_000)h\((ms / 60_000) % 60)m"
    }
}
