import MetroKit
import Recommendations
import Synchronization

/// Which acknowledged views to follow for the "view→visible" latency: one in
/// `every`, at most `maxPerSecond` started per second and `maxInFlight` followed
/// at once, so that the sampling's own rpc load stays small beside the soak's.
/// A pure value with the time passed in.
public struct ViewSamplingPolicy: Sendable {
    public var every: Int
    public var maxPerSecond: Int
    public var maxInFlight: Int
    private var seen = 0
    private var windowStartNs: UInt64 = 0
    private var startedInWindow = 0

    public init(every: Int = 20, maxPerSecond: Int = 4, maxInFlight: Int = 8) {
        self.every = every
        self.maxPerSecond = maxPerSecond
        self.maxInFlight = maxInFlight
    }

    /// Whether to follow the view acknowledged at `nowNs`, with `inFlight` followed now.
    public mutating func shouldSample(nowNs: UInt64, inFlight: Int) -> Bool {
        seen += 1
        guard seen % every == 0, inFlight < maxInFlight else { return false }
        if nowNs >= windowStartNs + 1_000_000_000 {
            windowStartNs = nowNs
            startedInWindow = 0
        }
        guard startedInWindow < maxPerSecond else { return false }
        startedInWindow += 1
        return true
    }
}

/// Measures "view→visible": from a view's ACK to the moment `recommendations.seen`
/// counts it. For a sampled view of (user, video) that is the n-th view of the
/// pair acknowledged in the run, it polls every 20 ms until the count reaches n
/// (views of a pair are applied in seq order, so the n-th count is this view or
/// an earlier one: a lower bound only when the driver's views of one pair race).
/// Polls give up after `patience`; those views are counted as not visible.
///
/// Threading: `acknowledged` from any task, never waits (the driver calls it on its
/// hot path); each followed view is a task of its own; `finish` once, at the end.
final class ViewVisibilitySampler: Sendable {
    private struct State {
        var policy = ViewSamplingPolicy()
        var acknowledged: [String: Int] = [:]
        var inFlight: [Int: Task<Void, Never>] = [:]
        var nextTask = 0
        var latenciesMs: [Double] = []
        var notVisible = 0
    }

    private let recommendations: RpcClient
    private let patience: Duration
    private let state = Mutex(State())
    private let began = ContinuousClock.now

    init(recommendations: RpcClient, patience: Duration = .seconds(30)) {
        self.recommendations = recommendations
        self.patience = patience
    }

    func acknowledged(userId: String, videoId: String) {
        let ackedAt = ContinuousClock.now
        let nowNs = UInt64((ackedAt - began).fractionalMilliseconds * 1e6)
        state.withLock { s in
            let key = "\(userId)\u{0}\(videoId)"
            let n = s.acknowledged[key, default: 0] + 1
            s.acknowledged[key] = n
            guard s.policy.shouldSample(nowNs: nowNs, inFlight: s.inFlight.count) else { return }
            let id = s.nextTask
            s.nextTask += 1
            s.inFlight[id] = Task {
                await self.follow(userId: userId, videoId: videoId, count: n, from: ackedAt)
                self.state.withLock { _ = $0.inFlight.removeValue(forKey: id) }
            }
        }
    }

    private func follow(userId: String, videoId: String, count: Int, from ackedAt: ContinuousClock.Instant) async {
        while ContinuousClock.now - ackedAt < patience, !Task.isCancelled {
            if let list = try? await recommendations.call(RecommendationsAPI.seen, SeenRequest(userId: userId)),
                (list.views.first { $0.videoId == videoId }?.count ?? 0) >= count
            {
                let ms = (ContinuousClock.now - ackedAt).fractionalMilliseconds
                state.withLock { $0.latenciesMs.append(ms) }
                return
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        state.withLock { $0.notVisible += 1 }
    }

    /// Waits up to `wait` for the views still followed, cancels the rest (counted
    /// as not visible), and returns the latencies.
    func finish(wait: Duration) async -> (latenciesMs: [Double], notVisible: Int) {
        let deadline = ContinuousClock.now + wait
        while state.withLock({ !$0.inFlight.isEmpty }), ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        let rest = state.withLock { Array($0.inFlight.values) }
        for t in rest { t.cancel() }
        for t in rest { await t.value }
        return state.withLock { ($0.latenciesMs, $0.notVisible) }
    }
}
