import MetroKit
import Synchronization
import VideoProcessing

/// The load: Poisson arrivals at `rate` operations per second, each of a kind
/// drawn from the mix (seeded), at most `concurrency` of each kind in flight. An
/// arrival that finds `concurrency` operations of its kind in flight is not
/// queued (a queue would grow without bound and hide the saturation): it is
/// recorded as a failed operation "not started: saturated" and counted on the
/// progress line. The limit is per kind so that one kind waiting on a fault (views
/// retrying through a full disk) does not starve the others: the report then
/// shows whether the rest of the system kept answering.
///
/// Alongside, once a second, the videos uploaded and not yet processed are
/// asked for (`video.get`) so that views only pick processed videos.
struct SoakLoad: Sendable {
    let operations: SoakOperations
    let mix: SoakMix
    let rate: Double
    let concurrency: Int

    /// Runs until `until` (a recorder time in ns) or until the task is cancelled.
    func run(random seed: SoakRandom, until endNs: UInt64) async {
        var random = seed
        let recorder = operations.recorder
        let inFlight = InFlight()
        await withDiscardingTaskGroup { group in
            group.addTask { await pollPending(until: endNs) }
            var next = Double(recorder.nowNs()) / 1e9
            while !Task.isCancelled {
                next += random.exponential(mean: 1 / rate)
                let kind = mix.draw(&random)
                guard UInt64(next * 1e9) < endNs else { break }
                let wait = next - Double(recorder.nowNs()) / 1e9
                if wait > 0 { try? await Task.sleep(for: .nanoseconds(Int64(wait * 1e9))) }
                if Task.isCancelled { break }
                guard inFlight.enter(kind, limit: concurrency) else {
                    let now = recorder.nowNs()
                    await recorder.record(
                        SoakOperation(
                            kind: kind, startNs: now, endNs: now, outcome: .failed,
                            error: HistoryRecorder.saturatedPrefix + " (\(concurrency) \(kind.rawValue) in flight)",
                            via: "none"))
                    continue
                }
                group.addTask {
                    await operations.run(kind)
                    inFlight.leave(kind)
                }
            }
        }
    }

    private func pollPending(until endNs: UInt64) async {
        let state = operations.state
        while !Task.isCancelled && operations.recorder.nowNs() < endNs + 5_000_000_000 {
            try? await Task.sleep(for: .seconds(1))
            var processed: [String] = []
            var failed: [String] = []
            for id in await state.pending.prefix(64) {
                guard
                    let video = try? await operations.clients.video.call(
                        VideoAPI.get, GetVideoRequest(videoId: id), deadline: .seconds(2))
                else { continue }
                if video.status == .processed {
                    processed.append(id)
                } else if video.status == .failed {
                    failed.append(id)
                }
            }
            await state.settled(processed: processed, failed: failed)
            if operations.recorder.nowNs() >= endNs { return }
        }
    }
}

/// The share of each operation kind (defaults: sign-up 5%, edit 5%, upload
/// 10%, view 60%, recommend 20%).
public struct SoakMix: Sendable {
    public var shares: [(kind: SoakOperation.Kind, share: Double)]

    public static let standard = SoakMix(shares: [
        (.signUp, 0.05), (.profileEdit, 0.05), (.upload, 0.10), (.view, 0.60), (.recommend, 0.20),
    ])

    public init(shares: [(kind: SoakOperation.Kind, share: Double)]) {
        let total = shares.reduce(0) { $0 + $1.share }
        self.shares = shares.map { ($0.kind, $0.share / total) }
    }

    public func draw(_ random: inout SoakRandom) -> SoakOperation.Kind {
        var u = random.unit()
        for (kind, share) in shares {
            if u < share { return kind }
            u -= share
        }
        return shares.last!.kind
    }

    public var asDictionary: [String: Double] {
        Dictionary(uniqueKeysWithValues: shares.map { ($0.kind.rawValue, $0.share) })
    }
}

/// The operations in flight, per kind.
private final class InFlight: Sendable {
    private let counts = Mutex<[SoakOperation.Kind: Int]>([:])

    /// Takes a place for one `kind` operation; false when `limit` are in flight.
    func enter(_ kind: SoakOperation.Kind, limit: Int) -> Bool {
        counts.withLock { counts in
            guard counts[kind, default: 0] < limit else { return false }
            counts[kind, default: 0] += 1
            return true
        }
    }

    func leave(_ kind: SoakOperation.Kind) {
        counts.withLock { $0[kind, default: 1] -= 1 }
    }
}
