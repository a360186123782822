import Foundation
import Logging
import MetroKit
import MetroProtocol
import Synchronization
import ZeroMQ

/// Gathers the children's ready lines into `metro up`'s one ready line
/// (docs/operations.md, "Readiness line"): the broker's fields as they are, the
/// registry's `endpoint` under `registry`, and per service the ids of its
/// instances (`"video":"video-1,video-2"`). A worker prints its ready line
/// before its registration is through, so once every child has been ready the
/// registry is asked (LIST) until each expected instance is registered; only
/// then is the line printed, once, followed on stderr by the human `ready in N
/// ms` with the endpoints and the next commands to try. A restarted child's
/// ready line is only logged.
final class UpReadiness: Sendable {
    /// The children by name, and the (service, instance) pairs that must be registered.
    private let children: [String]
    private let instances: [(service: String, instance: String)]
    private let registry: String
    private let curve: CurveCredentials?
    /// The key folder of a `--secure` system: the CLI commands printed take it.
    private let keysDirectory: String?
    /// A `--secure` gateway's token secret: the human message says how to mint a token.
    private let gatewaySecret: String?
    private let logger: Logger
    /// `--log-format json`: the human block goes out as one log record (its text in `summary`).
    private let jsonLogs: Bool
    private let state = Mutex<(fields: [String: String], ready: Set<String>, checking: Bool)>(([:], [], false))
    private let started = ContinuousClock.now

    init(
        children: [String], instances: [(service: String, instance: String)], registry: String,
        curve: CurveCredentials? = nil, keysDirectory: String? = nil, gatewaySecret: String? = nil,
        jsonLogs: Bool = false, logger: Logger
    ) {
        self.jsonLogs = jsonLogs
        self.gatewaySecret = gatewaySecret
        self.children = children
        self.instances = instances
        self.registry = registry
        self.curve = curve
        self.keysDirectory = keysDirectory
        self.logger = logger
    }

    func childReady(_ child: String, fields: [String: String], restarted: Bool) {
        let complete: [String: String]? = state.withLock { state in
            if child == "broker" {
                state.fields.merge(fields) { _, new in new }
            } else if child == "registry", let endpoint = fields["endpoint"] {
                state.fields["registry"] = endpoint
            } else if child == "gateway", let http = fields["http"] {
                state.fields["gateway"] = http
            }
            state.ready.insert(child)
            guard !state.checking, state.ready.isSuperset(of: children) else { return nil }
            state.checking = true
            return state.fields
        }
        if restarted { logger.notice("\(child) is ready again", metadata: ["endpoints": "\(fields)"]) }
        if let complete { Task { await announceOnceRegistered(complete) } }
    }

    /// Asks the registry every 100 ms until every expected instance is
    /// registered, then prints the ready lines.
    private func announceOnceRegistered(_ base: [String: String]) async {
        var line = base
        for service in SystemFile.serviceNames {
            let ids = instances.filter { $0.service == service }.map(\.instance)
            if !ids.isEmpty { line[service] = ids.joined(separator: ",") }
        }
        if !instances.isEmpty {
            var configuration = RegistryClient.Configuration(endpoints: [registry])
            configuration.curve = curve
            guard let client = try? RegistryClient(configuration: configuration) else {
                logger.error("cannot make a registry client for \(registry)")
                return
            }
            defer { Task { await client.close() } }
            var lastMissing: [String] = []
            var lastLog = ContinuousClock.now
            while !Task.isCancelled {
                let listed = (try? await client.list()) ?? []
                let registered = Set(listed.map { "\($0.service)/\($0.instance)" })
                lastMissing = instances.map { "\($0.service)/\($0.instance)" }.filter { !registered.contains($0) }
                if lastMissing.isEmpty { break }
                if ContinuousClock.now - lastLog > .seconds(5) {
                    logger.notice("waiting for registrations", metadata: ["missing": "\(lastMissing)"])
                    lastLog = ContinuousClock.now
                }
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
        let elapsed = ContinuousClock.now - started
        let ms = elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
        line["readyMs"] = "\(ms)"
        ReadyLine.print(line, status: Self.status(line, ms: ms, instances: instances))
        let text = Self.human(line, ms: ms, instances: instances, keys: keysDirectory, gatewaySecret: gatewaySecret)
        if jsonLogs {
            logger.notice("ready in \(ms) ms", metadata: ["summary": "\(text)"])
        } else {
            FileHandle.standardError.write(Data(text.utf8))
        }
    }

    /// The service manager's one-line STATUS once ready (`systemctl status`).
    static func status(_ line: [String: String], ms: Int64, instances: [(service: String, instance: String)]) -> String
    {
        var parts = ["broker \(line["ingest"] ?? "?")", "registry \(line["registry"] ?? "?")"]
        if let http = line["gateway"] { parts.append("gateway http://\(http)") }
        let counts = SystemFile.serviceNames.compactMap { service -> String? in
            let n = instances.filter { $0.service == service }.count
            return n > 0 ? "\(service) ×\(n)" : nil
        }
        parts.append("services \(counts.isEmpty ? "none" : counts.joined(separator: ", "))")
        return "ready in \(ms) ms: " + parts.joined(separator: "; ")
    }

    /// `ready in N ms`, the endpoints and what to try next, on stderr (stdout
    /// holds only the machine-readable ready line).
    private static func human(
        _ line: [String: String], ms: Int64, instances: [(service: String, instance: String)], keys: String?,
        gatewaySecret: String?
    ) -> String {
        let ingest = line["ingest"] ?? "?"
        let events = line["events"] ?? "?"
        let registry = line["registry"] ?? "?"
        var counts: [String] = []
        for service in SystemFile.serviceNames {
            let n = instances.filter { $0.service == service }.count
            if n > 0 { counts.append("\(service) ×\(n)") }
        }
        let defaults = ingest == "tcp://127.0.0.1:7701" && events == "tcp://127.0.0.1:7703"
        let publishFlags = defaults ? "" : " --ingest \(ingest) --consume \(line["consume"] ?? "?")"
        let tailFlags = defaults ? "" : " --events \(events) --consume \(line["consume"] ?? "?")"
        let servicesFlags = registry == "tcp://127.0.0.1:7400" ? "" : " --registry \(registry)"
        // A secure system's CLI needs the operator's key: one export covers every command.
        let secureLines = keys.map { "\n  security  CURVE on; keys and allow-list in \($0)" } ?? ""
        var export = keys.map { "  export METRO_KEYS=\($0)\n" } ?? ""
        if let gatewaySecret, let http = line["gateway"] {
            // HTTP needs a bearer token: an operator's, minted from the secret (docs/gateway-auth.md).
            export += """
                  TOKEN=$(metro gateway-auth token --user ops --role operator --ttl 1h --secret-file \(gatewaySecret))
                  curl -H "Authorization: Bearer $TOKEN" http://\(http)/v1/services

                """
        }
        // Example views name users of the journal (`ExampleGrounding`): make one first.
        let bearer = gatewaySecret == nil ? "" : " -H \"Authorization: Bearer $TOKEN\""
        let signUp = line["gateway"].map {
            "  curl -X POST http://\($0)/v1/users\(bearer) -H 'content-type: application/json' "
                + #"-d '{"email":"ada@example.com","displayName":"Ada"}'"# + "\n"
        }
        return """
            ready in \(ms) ms
              broker    ingest \(ingest)  events \(events)  consume \(line["consume"] ?? "?")\
            \(line["metrics"].map { "  metrics http://\($0)/metrics" } ?? "")
              registry  \(registry)\
            \(line["gateway"].map { "\n  gateway   http://\($0)/v1  (curl http://\($0)/readyz)" } ?? "")
              services  \(counts.isEmpty ? "none" : counts.joined(separator: ", "))
              journal   \(line["dataDir"] ?? "?")\(secureLines)
            try:
            \(export)\
            \(signUp ?? "")\
              metro publish video.watched --example --count 20\(publishFlags)
              metro tail video.\(tailFlags)
              metro services\(servicesFlags)

            """
    }
}
