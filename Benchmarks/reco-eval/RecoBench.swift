import ArgumentParser
import BenchSupport
import Foundation
import GRDB
import Histogram
import MetroKit
import Recommendations

/// `metro-reco-eval bench`: `recommendations.get` latency with 10k videos and
/// 100k views in the model while views stream in at `--rate` per second, over
/// rpc to a real `metro worker recommendations` (next to this binary), against
/// the same query (`ModelQueries.recommendations`) on the same database
/// in-process with nothing else running (the baseline).
///
/// The model is loaded straight into the worker's database file with
/// `ModelUpdate` (the handler's code, one transaction) before the worker
/// starts; the streamed views go through the broker and the worker's handler.
struct RecoBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "recommendations.get p50/p99 under a stream of views, vs in-process.")

    @Option(help: "Seconds of measuring under load.") var seconds = 20
    @Option(help: "Views published per second while measuring.") var rate = 1000
    @Option(help: "Calls of the in-process baseline.") var baselineCalls = 2000
    @Option(help: "Videos in the model.") var videos = 10_000
    @Option(help: "Users in the model (10 views each).") var users = 10_000

    func run() async throws {
        let world = BenchWorld(videos: videos, users: users)
        let stack = try BenchStack()
        defer { stack.stop() }
        let database = stack.folder + "/reco/recommendations/recommendations.sqlite"
        let loadSeconds = try world.load(into: database)
        print(
            "model: \(videos) videos, \(users * world.viewsPerUser) views, \(users) users; loaded in \(fixed(loadSeconds, 1)) s; "
                + "\(ProcessInfo.processInfo.activeProcessorCount) cores")
        let baseline = try inProcess(database, world: world)

        let worker = try stack.worker("recommendations", instance: "reco-bench", data: "reco")
        let client = try RpcClient(endpoints: [worker.ready["rpc"]!])
        let before = try await client.call(RecommendationsAPI.stats, StatsRequest())
        let publisher = try Publisher(.init(ingest: stack.ingest))
        let streamed = Counter()
        let deadline = ContinuousClock.now + .seconds(seconds)
        let cpu0 = worker.cpuSeconds
        async let published: Void = stream(publisher, world: world, until: deadline, count: streamed)
        var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
        var random = BenchRandom(seed: 99)
        var failures = 0
        while ContinuousClock.now < deadline {
            let user = "u\(random.next() % UInt64(users))"
            let t0 = ContinuousClock.now
            do {
                _ = try await client.call(RecommendationsAPI.get, GetRecommendationsRequest(userId: user, limit: 10))
                _ = histogram.record(nanoseconds(ContinuousClock.now - t0))
            } catch {
                failures += 1
            }
        }
        try await published
        let cpu = worker.cpuSeconds - cpu0
        let after = try await client.call(RecommendationsAPI.stats, StatsRequest())
        await client.close()
        await publisher.close()

        let applied = after.views - before.views
        print(
            "under load: \(streamed.value) views published in \(seconds) s (\(streamed.value / seconds)/s), "
                + "\(applied) applied by the worker meanwhile (\(applied / seconds)/s); worker CPU \(fixed(cpu, 1)) s; "
                + "\(failures) failed calls")
        print("")
        print("| recommendations.get, limit 10 | calls | p50 ms | p99 ms |")
        print("|---|---:|---:|---:|")
        print(row("in-process ModelQueries, idle (baseline)", baseline))
        print(row("rpc to metro worker, \(rate) views/s streaming", histogram))
        let p50 = Double(histogram.valueAtPercentile(50)) / Double(max(1, baseline.valueAtPercentile(50)))
        let p99 = Double(histogram.valueAtPercentile(99)) / Double(max(1, baseline.valueAtPercentile(99)))
        print("| ratio (rpc under load / baseline) | | \(fixed(p50, 2)) | \(fixed(p99, 2)) |")
    }

    /// The query alone, in this process, on the loaded file.
    private func inProcess(_ path: String, world: BenchWorld) throws -> Histogram<UInt64> {
        let db = try DatabaseQueue(path: path)
        defer { try? db.close() }
        var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
        var random = BenchRandom(seed: 98)
        try db.read { db in
            for _ in 0..<baselineCalls {
                let user = "u\(random.next() % UInt64(users))"
                let t0 = ContinuousClock.now
                _ = try ModelQueries.recommendations(for: user, limit: 10, in: db)
                _ = histogram.record(nanoseconds(ContinuousClock.now - t0))
            }
        }
        return histogram
    }

    /// `rate` views per second as acknowledged publishes, in batches every 10 ms, until `deadline`.
    private func stream(
        _ publisher: Publisher, world: BenchWorld, until deadline: ContinuousClock.Instant, count: Counter
    )
        async throws
    {
        var random = BenchRandom(seed: 1234)
        let perTick = max(1, rate / 100)
        var next = ContinuousClock.now
        var n = 0
        while ContinuousClock.now < deadline {
            var batch: [Publisher.Event] = []
            for _ in 0..<perTick {
                let view = world.randomView(&random, id: "stream-\(n)", atMs: world.startMs + 200_000_000 + Int64(n))
                let payload =
                    "{\"secondsWatched\":\(view.secondsWatched!),\"userId\":\"\(view.userId)\",\"videoId\":\"\(view.videoId)\",\"watchedAtMs\":\(view.watchedAtMs)}"
                batch.append(
                    Publisher.Event(
                        topic: "video.watched", payload: Array(payload.utf8),
                        headers: Array("{\"schema\":\"1.0\"}".utf8),
                        eventID: Array("stream-\(UUID().uuidString.prefix(8))-\(n)".utf8)))
                n += 1
            }
            _ = try await publisher.publish(batch: batch)
            count.add(batch.count)
            next += .milliseconds(10)
            try await Task.sleep(until: next, clock: .continuous)
        }
    }

    private func row(_ name: String, _ h: Histogram<UInt64>) -> String {
        "| \(name) | \(h.totalCount) | \(ms(h.valueAtPercentile(50))) | \(ms(h.valueAtPercentile(99))) |"
    }
}

/// Views published so far (the streaming task adds, the report reads).
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func add(_ k: Int) { lock.withLock { n += k } }
    var value: Int { lock.withLock { n } }
}

func nanoseconds(_ d: Duration) -> UInt64 {
    UInt64(d.components.seconds) * 1_000_000_000 + UInt64(d.components.attoseconds / 1_000_000_000)
}

func ms(_ ns: UInt64) -> String { fixed(Double(ns) / 1e6, 2) }
