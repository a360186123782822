import Foundation
import MetroKit
import MetroProtocol
import ZeroMQ

/// One look at the system for `metro top`: the broker's STATS (protocol.md
/// §4.5) and the registry's LIST (§5.8), each with the error instead when it
/// did not answer, and the monotonic time it was taken (for rates).
struct TopSample: Sendable {
    /// When the broker answered (or gave up): the clock of the rates.
    let taken: ContinuousClock.Instant
    let wallNs: UInt64
    let broker: Result<BrokerStats, TopFailure>
    let registry: Result<[InstanceStatus], TopFailure>
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

    func sample() async -> TopSample {
        async let stats = brokerStats()
        async let instances = registryList()
        let ((s, answered), i) = await (stats, instances)
        return TopSample(
            taken: answered, wallNs: UInt64(Date().timeIntervalSince1970 * 1e9), broker: s, registry: i)
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
                    TopFailure(description: "broker at \(admin.consumeEndpoint) does not answer: \($0)")
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
            return .failure(TopFailure(description: "registry does not answer: \(error)"))
        }
    }
}
