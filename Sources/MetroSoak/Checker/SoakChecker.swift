public import Foundation
public import Logging
import MetroKit
import Profiles
import Recommendations
import VideoProcessing

/// The soak's checker, in the style of a Jepsen checker: while the run goes it
/// follows the journal live (`JournalWatcher`) and times sampled views until the
/// model shows them (`ViewVisibilitySampler`); at the end it waits for the
/// consumer groups to drain, reads the run's journal back by replay, asks the
/// services what they hold, and judges each invariant (`SoakInvariant`) as a pure
/// function of the recorded history and what it read.
///
/// The driver makes one per run: `start(fromSeq:)` before the load,
/// `viewAcknowledged` for each ACKed view, `liveViolationCount()` for its progress
/// line, and `finish(history:drainTimeout:)` once the load stopped, the chaos
/// ended and every component is up again. Nothing here blocks the cooperative
/// pool: ZeroMQ sockets live on MetroKit's I/O threads or on threads of their own.
public actor SoakChecker {
    private let endpoints: SoakEndpoints
    private let logger: Logger
    private var clients: (registry: RegistryClient, reader: ServiceReader)?
    private var watcher: JournalWatcher?
    private var sampler: ViewVisibilitySampler?

    public init(endpoints: SoakEndpoints, logger: Logger) {
        self.endpoints = endpoints
        self.logger = logger
    }

    /// Starts watching the journal live from `fromSeq` (replay, then live, as
    /// `metro tail --from` does); returns once the subscription is live.
    public func start(fromSeq: UInt64) async throws {
        let reader = try serviceReader()
        sampler = ViewVisibilitySampler(recommendations: reader.recommendations)
        let watcher = try JournalWatcher(endpoints: endpoints, fromSeq: fromSeq, logger: logger)
        self.watcher = watcher
        try await watcher.start()
    }

    /// Violations the live watcher saw so far (seqs out of order, event ids twice).
    public func liveViolationCount() -> Int { watcher?.log.violationCount ?? 0 }

    /// A view the driver just had ACKed; one in 20 (a few per second at most) is
    /// followed until `recommendations.seen` counts it. `eventId` and `ackNs` are
    /// the driver's record; the latency is timed from this call.
    public func viewAcknowledged(userId: String, videoId: String, eventId: String, ackNs: UInt64) {
        sampler?.acknowledged(userId: userId, videoId: videoId)
    }

    /// Waits for the system to settle (at most `drainTimeout`: every acknowledged
    /// upload's outcome seen live, then every group drained), then checks every
    /// invariant against `history`. Call once; it closes the checker's clients.
    public func finish(history: SoakHistory, drainTimeout: Duration) async -> CheckerResult {
        // Quiescence first: every acknowledged upload's outcome published (the
        // outbox relays run after the groups' ACKs), then every group drained
        // (the outcomes are consumed in turn), both within `drainTimeout`.
        let began = ContinuousClock.now
        let uploads = Set(history.operations.filter { $0.kind == .upload && $0.outcome == .ok }.compactMap(\.videoId))
        if let watcher, await watcher.waitForOutcomes(of: uploads, timeout: drainTimeout) > 0 {
            logger.warning("some acknowledged uploads had no outcome within \(drainTimeout)")
        }
        let left = max(drainTimeout - (ContinuousClock.now - began), .seconds(1))
        let drain = await GroupDrainWaiter.wait(
            consume: endpoints.consume, curve: endpoints.security?.broker,
            awaiting: [Profiles.group, VideoProcessing.group, Recommendations.group], timeout: left)
        let visible = await sampler?.finish(wait: .seconds(5)) ?? (latenciesMs: [], notVisible: 0)
        if visible.notVisible > 0 { logger.warning("\(visible.notVisible) sampled views never showed in the model") }
        await watcher?.stop()
        let live = watcher?.log ?? LiveJournalLog()
        let curve = endpoints.security?.broker
        let readBack = await JournalReader.read(replay: endpoints.replay, from: history.startSeq + 1, curve: curve)
        let earlierViews =
            history.startSeq == 0
            ? JournalReadBack()
            : await JournalReader.read(
                replay: endpoints.replay, from: 0, to: history.startSeq, prefixes: [SoakTopics.watched], curve: curve)
        let users = Set(
            ViewInvariants.happened(history.operations, journal: readBack.entries).views.map(\.userId))
        let services: ServiceSnapshot
        do {
            services = try await serviceReader().snapshot(users: users)
        } catch {
            let failed = ServiceSnapshot.Read<[String: Int]>.failed("no rpc client: \(error)")
            services = ServiceSnapshot(
                histories: Dictionary(uniqueKeysWithValues: users.map { ($0, failed) }),
                seen: Dictionary(uniqueKeysWithValues: users.map { ($0, failed) }))
        }
        await close()
        let endNs = max(history.operations.map(\.endNs).max() ?? 0, history.samples.map(\.tNs).max() ?? 0)
        let verdicts = [
            UploadInvariant.check(operations: history.operations, journal: readBack.entries),
            ViewInvariants.checkHistory(operations: history.operations, journal: readBack.entries, services: services),
            ViewInvariants.checkModel(
                operations: history.operations, journal: readBack.entries, earlierViews: earlierViews.entries,
                services: services),
            JournalInvariants.checkAcked(operations: history.operations, readBack: readBack),
            JournalInvariants.checkSeqs(
                readBack: readBack, faults: history.faults, startedAt: history.startedAt, endNs: endNs),
            DrainInvariant.check(drain),
            DeadlineInvariant.check(operations: history.operations),
            RSSInvariant.check(samples: history.samples),
        ]
        for v in verdicts where !v.holds { logger.error("invariant \(v.name) failed: \(v.detail)") }
        return CheckerResult(
            verdicts: verdicts,
            latenciesMs: [
                "upload→processed": UploadLatency.millis(history: history, live: live, journal: readBack.entries),
                "view→visible": visible.latenciesMs,
            ])
    }

    /// The rpc clients of the two services the checker asks, made on first use.
    private func serviceReader() throws -> ServiceReader {
        if let clients { return clients.reader }
        var configuration = RegistryClient.Configuration(
            endpoints: [endpoints.registry], eventsEndpoint: endpoints.events)
        configuration.curve = endpoints.security?.registry
        configuration.eventsCurve = endpoints.security?.broker
        let registry = try RegistryClient(configuration: configuration, logger: logger)
        var rpc = RpcClient.Options()
        rpc.curveKeys = endpoints.security?.keys
        let reader = ServiceReader(
            profiles: try RpcClient(service: Profiles.serviceName, registry: registry, options: rpc, logger: logger),
            recommendations: try RpcClient(
                service: Recommendations.serviceName, registry: registry, options: rpc, logger: logger))
        clients = (registry, reader)
        return reader
    }

    private func close() async {
        guard let clients else { return }
        await clients.reader.profiles.close()
        await clients.reader.recommendations.close()
        await clients.registry.close()
        self.clients = nil
    }
}

/// "upload→processed": from an acknowledged upload's end to the moment its
/// outcome event was first seen by the live watcher (or, if the watcher missed
/// it, stamped by the broker). Wall-clock times are put on the run's clock
/// through `SoakHistory.startedAt`.
enum UploadLatency {
    static func millis(history: SoakHistory, live: LiveJournalLog, journal: [JournalEntry]) -> [Double] {
        let startWallNs = UInt64(max(0, history.startedAt.timeIntervalSince1970) * 1e9)
        var stamped: [String: UInt64] = [:]
        for e in journal where e.isUploadOutcome {
            if let v = e.videoId, stamped[v] == nil { stamped[v] = e.timeNs }
        }
        return history.operations.compactMap { op in
            guard op.kind == .upload, op.outcome == .ok, let video = op.videoId,
                let wall = live.outcomeSeenAtNs[video] ?? stamped[video]
            else { return nil }
            let runNs = wall > startWallNs ? wall - startWallNs : 0
            return runNs > op.endNs ? Double(runNs - op.endNs) / 1e6 : 0
        }
    }
}
