import Foundation
import MetroBroker
import MetroKit
import ZeroMQ

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The doctor's checks of Metro's own ports: the broker's four sockets, its
/// metrics endpoint (HTTP, default 127.0.0.1:7709) and the registry's socket
/// (default 7400). A port that cannot be bound is asked who holds it: a running
/// Metro answers (the broker STATS on its consume socket, the registry STATS, the
/// metrics endpoint `GET /metrics` with `metro_` samples), and then the check only
/// warns ("in use by a running Metro"), since `metro up` being up is no fault of
/// the machine. Anything else holding the port fails the check.
struct DoctorPorts {
    let broker: BrokerConfiguration
    let registry: String
    let configFile: String?
    /// `host:port` of the gateway's HTTP listener to check; nil: none.
    var gateway: String? = nil

    func checks() async -> [DoctorCheck] {
        let e = broker.endpoints
        let brokerAnswers = BrokerAnswers(consume: e.consume)
        var checks: [DoctorCheck] = []
        for (name, endpoint) in [
            ("ingest", e.ingest), ("publish", e.publish), ("events", e.events), ("consume", e.consume),
        ] {
            checks.append(
                DoctorCheck.endpointFree(name: name, endpoint: endpoint, configFile: configFile) {
                    brokerAnswers.value ? "a running Metro broker (it answers STATS on \(e.consume))" : nil
                })
        }
        if !e.metrics.isEmpty {
            let owner = await Self.metricsOwner(e.metrics)
            checks.append(
                DoctorCheck.endpointFree(
                    name: "metrics", endpoint: "tcp://" + e.metrics, configFile: configFile,
                    fix: "or set endpoints.metrics (\"\" turns it off)"
                ) { owner })
        }
        checks.append(
            DoctorCheck.endpointFree(
                name: "registry", endpoint: registry, configFile: nil, fix: "or give metro up --registry another"
            ) { Self.registryAnswers(registry) ? "a running Metro registry (it answers STATS)" : nil })
        if let gateway {
            let owner = await Self.gatewayOwner(gateway)
            checks.append(
                DoctorCheck.endpointFree(
                    name: "gateway", endpoint: "tcp://" + gateway, configFile: nil,
                    fix: "or give metro up --gateway another (\"\" starts none)"
                ) { owner })
        }
        return checks
    }

    /// "a running Metro gateway" when an HTTP request to `listen` is answered as
    /// Metro's gateway answers (a problem of type `urn:metro:problem:*`), else nil.
    static func gatewayOwner(_ listen: String) async -> String? {
        guard let url = URL(string: "http://\(listen)/v1/metro-doctor-probe") else { return nil }
        var request = URLRequest(url: url)
        request.timeoutInterval = 1  // whole seconds: less times out at once (docs/performance.md)
        guard let (data, _) = try? await URLSession.shared.data(for: request) else { return nil }
        let text = String(decoding: data, as: UTF8.self)
        return text.contains("urn:metro:problem") ? "a running Metro gateway (it answers as one)" : nil
    }

    /// Asked at most once, and only when a broker port is taken.
    final class BrokerAnswers: @unchecked Sendable {
        let consume: String
        private var answer: Bool?
        init(consume: String) { self.consume = consume }
        var value: Bool {
            if let answer { return answer }
            let ok = (try? BrokerAdminClient(consumeEndpoint: consume, timeout: .milliseconds(500)).stats()) != nil
            answer = ok
            return ok
        }
    }

    /// Whether a Metro registry answers STATS on `endpoint` within 500 ms (one try).
    static func registryAnswers(_ endpoint: String) -> Bool {
        guard let ctx = try? Context(ioThreads: 1, defaultLingerMilliseconds: 0),
            let socket = try? ctx.socket(.req)
        else { return false }
        defer { socket.close() }
        do {
            try socket.set(.receiveTimeout(milliseconds: 500))
            try socket.set(.sendTimeout(milliseconds: 500))
            try socket.connect(endpoint)
            try socket.send(multipart: [Array("metro/1".utf8), Array("STATS".utf8)])
            guard let reply = try socket.receiveMultipart(), reply.count >= 2 else { return false }
            return reply[0] == Array("metro/1".utf8) && reply[1] == Array("OK".utf8)
        } catch {
            return false
        }
    }

    /// "a running Metro process (...)" when `GET http://<listen>/metrics` answers
    /// with Metro's samples within a second, else nil.
    static func metricsOwner(_ listen: String) async -> String? {
        guard let url = URL(string: "http://\(listen)/metrics") else { return nil }
        var request = URLRequest(url: url)
        request.timeoutInterval = 1
        guard let (data, response) = try? await URLSession.shared.data(for: request),
            (response as? HTTPURLResponse)?.statusCode == 200
        else { return nil }
        let text = String(decoding: data, as: UTF8.self)
        return text.contains("metro_") ? "a running Metro process (its GET /metrics answers)" : nil
    }
}
