import ArgumentParser
import Foundation
import MetroKit
import MetroProtocol

/// `metro services`: the registry's view as a table, as JSON (`--json`), or followed
/// live (`--watch`, from the broker's events when `--events` is given, else by
/// polling LIST). `--watch` first prints every instance that exists as `registered`
/// (with the time it registered), then each change; `--json` prints each as the
/// registry's membership event JSON (protocol.md §5.10) in both modes.
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

    @OptionGroup var keys: ClientKeyOptions
    @OptionGroup var global: GlobalOptions

    func run(_ process: ProcessBootstrap) async throws {
        var configuration = RegistryClient.Configuration(
            endpoints: registries, requestTimeout: .milliseconds(timeout), attempts: 2, eventsEndpoint: events)
        let loaded = try keys.load()
        configuration.curve = loaded.registry
        configuration.eventsCurve = loaded.broker
        let client = try RegistryClient(configuration: configuration)
        do {
            // --watch runs until SIGINT/SIGTERM, which end it cleanly (status 0).
            try await untilSignal { try await show(client) }
            await client.close()
        } catch {
            await client.close()
            throw ZMTPMechanismProbe.explain(error, endpoints: registries, curve: loaded != nil)
        }
    }

    private func show(_ client: RegistryClient) async throws {
        let eventStream = watch && events != nil ? client.membershipEvents() : nil
        var current = try await client.list()
        guard watch else {
            print(
                json
                    ? String(decoding: RegistryJSON.encode(ListResult(instances: current)), as: UTF8.self)
                    : ServicesTable.render(current))
            return
        }
        // What exists already, then the changes: the same lines in both modes.
        let now = UInt64(Date().timeIntervalSince1970 * 1e9)
        for s in current {
            printChange(WatchChange.event(.registered, s, at: now - s.ageMilliseconds * 1_000_000))
        }
        fflushStdout()
        if let eventStream {
            for await event in eventStream {
                printChange(event)
                fflushStdout()
            }
            return
        }
        while !Task.isCancelled {
            try await Task.sleep(for: .milliseconds(interval))
            let next = try await client.list()
            for change in WatchChange.between(current, next, interval: UInt64(interval)) { printChange(change) }
            fflushStdout()
            current = next
        }
    }

    /// One change: the registry's membership event JSON (protocol.md §5.10) with
    /// `--json`, else an aligned text line.
    private func printChange(_ event: MembershipEvent) {
        if json {
            print(String(decoding: RegistryJSON.encode(event), as: UTF8.self))
        } else {
            let kind = event.kind.rawValue.padding(toLength: 13, withPad: " ", startingAt: 0)
            print("\(kind) \(event.service) \(event.instance) \(event.endpoints.joined(separator: ","))")
        }
    }
}

/// `metro services --watch` by polling: the membership events that explain the
/// difference between two LIST results, in the shape the registry publishes.
enum WatchChange {
    static func event(_ kind: MembershipEvent.Kind, _ s: InstanceStatus, at ns: UInt64) -> MembershipEvent {
        MembershipEvent(
            kind,
            Registration(
                service: s.service, instance: s.instance, epoch: s.epoch, endpoints: s.endpoints,
                metadata: s.metadata, ttlMilliseconds: s.ttlMilliseconds),
            timestampNanoseconds: ns)
    }

    /// New instances and new epochs are `registered`; an instance gone from LIST is
    /// `expired` if its lease was due to run out within the polling interval, else
    /// `deregistered` (LIST does not say which; this is the likely one).
    static func between(_ before: [InstanceStatus], _ after: [InstanceStatus], interval: UInt64) -> [MembershipEvent] {
        let now = UInt64(Date().timeIntervalSince1970 * 1e9)
        func key(_ s: InstanceStatus) -> String { "\(s.service)/\(s.instance)" }
        let old = Dictionary(before.map { (key($0), $0) }, uniquingKeysWith: { a, _ in a })
        let new = Dictionary(after.map { (key($0), $0) }, uniquingKeysWith: { a, _ in a })
        var changes: [MembershipEvent] = []
        for (k, s) in new.sorted(by: { $0.key < $1.key }) where old[k]?.epoch != s.epoch {
            changes.append(event(.registered, s, at: now - s.ageMilliseconds * 1_000_000))
        }
        for (k, s) in old.sorted(by: { $0.key < $1.key }) where new[k] == nil {
            changes.append(event(s.leaseLeftMilliseconds <= interval ? .expired : .deregistered, s, at: now))
        }
        return changes
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
