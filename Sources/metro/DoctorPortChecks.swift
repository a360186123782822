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
///
/// A secure system's broker and registry answer only over CURVE: with `keys`
/// (the doctor's `--keys`, `METRO_KEYS`, `data/keys`; `metro up --secure`'s own)
/// they are asked over CURVE, and any metro/1 answer, a refusal included, names
/// them. Without keys, a port whose ZMTP greeting asks for CURVE
/// (`ZMTPMechanismProbe`) is reported as such, not as "not Metro".
struct DoctorPorts {
    let broker: BrokerConfiguration
    let registry: String
    let configFile: String?
    /// `host:port` of the gateway's HTTP listener to check; nil: none.
    var gateway: String? = nil
    /// A secure system's keys, to ask its broker and registry over CURVE.
    var keys: ClientKeys? = nil
    /// More Prometheus listeners `metro up` would bind (its own `--metrics`, the
    /// registry's `--registry-metrics`): name, `host:port`, the flag that moves it.
    var metricsListeners: [(name: String, listen: String, flag: String)] = []

    func checks() async -> [DoctorCheck] {
        let e = broker.endpoints
        let brokerAnswers = BrokerAnswers(consume: e.consume, curve: keys?.broker)
        var checks: [DoctorCheck] = []
        for (name, endpoint) in [
            ("ingest", e.ingest), ("publish", e.publish), ("events", e.events), ("consume", e.consume),
        ] {
            checks.append(
                DoctorCheck.endpointFree(
                    name: name, endpoint: endpoint, configFile: configFile,
                    owner: { brokerAnswers.value.map { "a running \($0)Metro broker (it answers on \(e.consume))" } },
                    stranger: { Self.secureStranger(endpoint) }))
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
                name: "registry", endpoint: registry, configFile: nil, fix: "or give metro up --registry another",
                owner: {
                    if Self.registryAnswers(registry) { return "a running Metro registry (it answers STATS)" }
                    if let keys, Self.registryAnswers(registry, curve: keys.registry) {
                        return "a running secure Metro registry (it answers STATS over CURVE)"
                    }
                    return nil
                }, stranger: { Self.secureStranger(registry) }))
        for listener in metricsListeners {
            let owner = await Self.metricsOwner(listener.listen)
            checks.append(
                DoctorCheck.endpointFree(
                    name: listener.name, endpoint: "tcp://" + listener.listen, configFile: nil,
                    fix: "or give metro up \(listener.flag) another (\"\" serves none)"
                ) { owner })
        }
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

    /// What holds a taken port that no Metro answered on: "a ZeroMQ server that
    /// requires CURVE" when its greeting says so, else nil ("something else").
    static func secureStranger(_ endpoint: String) -> String? {
        guard let mechanism = ZMTPMechanismProbe.mechanism(of: endpoint), mechanism != "NULL" else { return nil }
        return
            "a ZeroMQ server that requires \(mechanism) (a secure Metro system? give the doctor its key folder, --keys DIR or METRO_KEYS, to ask it)"
    }

    /// Asked at most once, and only when a broker port is taken: "" when it answers
    /// plain, "secure " when it answers over CURVE, nil when no Metro broker answers.
    final class BrokerAnswers: @unchecked Sendable {
        let consume: String
        let curve: CurveCredentials?
        private var answer: String??
        init(consume: String, curve: CurveCredentials?) {
            self.consume = consume
            self.curve = curve
        }
        var value: String? {
            if let answer { return answer }
            var found: String? = Self.answers(consume, curve: nil) ? "" : nil
            if found == nil, let curve, Self.answers(consume, curve: curve) { found = "secure " }
            answer = found
            return found
        }

        /// A STATS answer, or a metro/1 refusal (an identity without the grant): both are a Metro broker.
        private static func answers(_ consume: String, curve: CurveCredentials?) -> Bool {
            do {
                _ = try BrokerAdminClient(consumeEndpoint: consume, timeout: .milliseconds(500), curve: curve).stats()
                return true
            } catch let error as MetroClientError {
                return error.code == .rejected
            } catch {
                return false
            }
        }
    }

    /// Whether a Metro registry answers STATS on `endpoint` within 500 ms (one try).
    static func registryAnswers(_ endpoint: String, curve: CurveCredentials? = nil) -> Bool {
        guard let ctx = try? Context(ioThreads: 1, defaultLingerMilliseconds: 0),
            let socket = try? ctx.socket(.req)
        else { return false }
        defer { socket.close() }
        do {
            if let curve { try socket.makeCurveClient(curve) }
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
