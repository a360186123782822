import Foundation
import MetroKit
import MetroProtocol
import ZeroMQ

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// One look at the system for `metro top`: the broker's STATS (protocol.md
/// §4.5) and the registry's LIST (§5.8), each with the error instead when it
/// did not answer, and the monotonic time it was taken (for rates).
struct TopSample: Sendable {
    /// When the broker answered (or gave up): the clock of the rates.
    let taken: ContinuousClock.Instant
    let wallNs: UInt64
    let broker: Result<BrokerStats, TopFailure>
    let registry: Result<[InstanceStatus], TopFailure>
    /// The gateway's `/metrics`; nil when `metro top` was told of no gateway.
    var gateway: Result<GatewayFigures, TopFailure>? = nil
    /// `metro up`'s children (`<data>/up.status.json`); nil when no data folder is looked at.
    var processes: TopProcesses? = nil
}

/// Why a part of a sample is missing, as `metro top` shows it.
struct TopFailure: Error, Sendable, Equatable, CustomStringConvertible {
    let description: String
}

/// Takes samples: STATS on a thread of its own (the admin client blocks for up
/// to `timeout`; the cooperative pool never waits on a socket), LIST through one
/// `RegistryClient` that lives for the whole run. Both at once, each bounded by
/// its timeout, so a dead broker or registry costs a sample at most `timeout`
/// and never hangs the screen.
struct TopSampler: Sendable {
    let admin: BrokerAdminClient
    let registry: RegistryClient
    /// `host:port` of the gateway's HTTP listener; nil: none is shown.
    var gateway: String? = nil
    /// A bearer token for a secure gateway's `/metrics` (operators only).
    var gatewayToken: String? = nil
    var timeout: Duration = .milliseconds(800)
    /// `metro up`'s data folder, for its children's status; nil: not looked at.
    var dataFolder: String? = nil

    func sample() async -> TopSample {
        async let stats = brokerStats()
        async let instances = registryList()
        async let figures = gatewayFigures()
        let ((s, answered), i, g) = await (stats, instances, figures)
        return TopSample(
            taken: answered, wallNs: UInt64(Date().timeIntervalSince1970 * 1e9), broker: s, registry: i, gateway: g,
            processes: dataFolder.map(TopProcesses.read))
    }

    /// `GET http://<gateway>/metrics`, parsed; nil without a gateway to ask.
    private func gatewayFigures() async -> Result<GatewayFigures, TopFailure>? {
        guard let gateway, let url = URL(string: "http://\(gateway)/metrics") else { return nil }
        var request = URLRequest(url: url)
        // Whole seconds: swift-corelibs-foundation's URLSession times a request
        // out at once when given less than one (seen with 0.8).
        request.timeoutInterval = max(
            1, (Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18).rounded(.up))
        if let gatewayToken { request.setValue("Bearer \(gatewayToken)", forHTTPHeaderField: "Authorization") }
        do {
            let (data, response) = try await URLSession.shared.data(for: request)
            let status = (response as? HTTPURLResponse)?.statusCode ?? 0
            switch status {
            case 200:
                return .success(GatewayFigures.parse(String(decoding: data, as: UTF8.self)))
            case 401, 403:
                return .failure(
                    TopFailure(
                        description: "its /metrics is for operators (HTTP \(status)): pass --gateway-token "
                            + "(metro gateway-auth token --user ops --role operator ...)"))
            default:
                return .failure(TopFailure(description: "GET /metrics answered HTTP \(status)"))
            }
        } catch {
            return .failure(TopFailure(description: "not answering at \(gateway): \(error.localizedDescription)"))
        }
    }

    /// STATS, and when its answer came: rates divide by the time between the
    /// broker's answers, not by when the slower registry answered.
    private func brokerStats() async -> (Result<BrokerStats, TopFailure>, ContinuousClock.Instant) {
        let result = Mutexed<Result<BrokerStats, TopFailure>>(.failure(TopFailure(description: "not asked")))
        let answered = Mutexed(ContinuousClock.now)
        let admin = self.admin
        let thread = DedicatedThread(name: "metro-top-stats") {
            defer { answered.set(.now) }
            result.set(
                Result { try admin.stats() }.mapError {
                    let why = ZMTPMechanismProbe.explain(
                        $0, endpoints: [admin.consumeEndpoint], curve: admin.curve != nil)
                    return TopFailure(description: "broker at \(admin.consumeEndpoint) does not answer: \(why)")
                })
        }
        thread.start()
        await thread.join()
        return (result.get(), answered.get())
    }

    private func registryList() async -> Result<[InstanceStatus], TopFailure> {
        do {
            return .success(try await registry.list())
        } catch {
            let why = ZMTPMechanismProbe.explain(
                error, endpoints: registry.configuration.endpoints, curve: registry.configuration.curve != nil)
            return .failure(TopFailure(description: "registry does not answer: \(why)"))
        }
    }
}
