import Foundation
import GRDB
import MetroKit
import MetroProtocol
import MetroTestKit
import VideoProcessing

#if canImport(Glibc)
    import Glibc
#endif

/// Broker, registry and `metro worker video` instances sharing one data folder
/// (as instances on one host do), with an rpc client over all of them.
struct VideoStack {
    /// Member loss is noticed within a few 200 ms heartbeats.
    static let brokerConfig = "heartbeatIntervalMs: 200\njournal:\n  fsync: never\n"

    let broker: BrokerHarness
    let registry: RegistryUnderTest
    let workers: [VideoWorker]
    let rpc: RpcClient

    /// `count` workers with `extra` flags (and `environment`) each.
    init(workers count: Int = 1, extra: [String] = [], environment: [String: String] = [:]) async throws {
        broker = try await BrokerHarness(config: Self.brokerConfig)
        registry = try await RegistryUnderTest()
        var workers: [VideoWorker] = []
        for i in 1...count {
            workers.append(
                try await VideoWorker.launch(
                    broker: broker, registry: registry.endpoint, instance: "video-\(i)", environment: environment,
                    extra: extra, sharing: workers.first))
        }
        self.workers = workers
        rpc = try RpcClient(endpoints: workers.map(\.rpc), service: VideoProcessing.serviceName)
    }

    var blobs: BlobStore { BlobStore(dataFolder: workers[0].data.path) }

    func get(_ id: String) async throws -> Video { try await rpc.call(VideoAPI.get, GetVideoRequest(videoId: id)) }

    /// Waits until `id` is processed or failed, and returns it.
    func settled(_ id: String, within timeout: Duration = .seconds(60)) async throws -> Video {
        try await eventually("video \(id) final", timeout: timeout) { try await get(id).status.isFinal }
        return try await get(id)
    }

    /// Counts of `videos` rows by status, read from the shared database.
    func statusCounts() throws -> [String: Int] {
        try workers[0].read { db in
            try Row.fetchAll(db, sql: "SELECT status, COUNT(*) AS n FROM videos GROUP BY status").reduce(into: [:]) {
                $0[$1["status"] as String] = $1["n"] as Int
            }
        }
    }

    /// Every journaled event on `topic`, by replay from the journal's start.
    func journaled(_ topic: String) async throws -> [LiveEvent] {
        let out = try await replay(
            on: broker.consume, .init(id: bytes("count-\(topic)"), start: .seq(0), credit: 0, prefixes: [bytes(topic)]))
        return out.events.filter { $0.topic == topic }
    }

    /// The `videoId`s of the events on `topic`, once there is at least one: an
    /// outcome event is the outbox row of the commit that made the status final,
    /// and the relay publishes it after that commit (a CI run read the journal
    /// in between).
    func publishedVideoIDs(_ topic: String, within timeout: Duration = .seconds(30)) async throws -> [String] {
        try await eventually("\(topic) journaled", timeout: timeout) { try await !journaledVideoIDs(topic).isEmpty }
        return try await journaledVideoIDs(topic)
    }

    /// The `videoId`s of those events.
    func journaledVideoIDs(_ topic: String) async throws -> [String] {
        try await journaled(topic).map { event in
            let object = try JSONSerialization.jsonObject(with: Data(event.payload)) as? [String: Any]
            return object?["videoId"] as? String ?? ""
        }
    }

    func close() async { await rpc.close() }
}

/// A clip made by ffmpeg's lavfi sources (`testsrc` + `sine`), H.264 + AAC.
func makeClip(in folder: TemporaryDirectory, seconds: Int = 2, size: String = "320x240", name: String = "clip.mp4")
    async throws -> String
{
    let out = folder.url.appendingPathComponent(name).path
    let result = try await CommandRunner.run(
        "ffmpeg",
        [
            "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=duration=\(seconds):size=\(size):rate=25",
            "-f", "lavfi", "-i", "sine=duration=\(seconds)", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac",
            "-pix_fmt", "yuv420p", out,
        ], workFolder: folder.path, deadline: .now + .seconds(120))
    guard result.status == 0 else { throw WaitError.unexpected("ffmpeg could not make a clip: \(result.stderr)") }
    return out
}

/// Pids of the processes named `name` (comm) with an argument containing
/// `fragment`, whoever their parent is now (an orphan is reparented), from /proc.
func processes(named name: String, withArgumentContaining fragment: String) -> [Int32] {
    let pids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc"))?.compactMap { Int32($0) } ?? []
    return pids.filter { pid in
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")"),
            stat[stat.index(after: open)..<close] == name,
            let cmdline = try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline"))
        else { return false }
        return cmdline.split(separator: 0).contains { String(decoding: $0, as: UTF8.self).contains(fragment) }
    }
}

/// Whether `pid` exists and is not a zombie.
func isAlive(_ pid: Int32) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = stat.lastIndex(of: ")")
    else { return false }
    return stat[stat.index(after: close)...].split(separator: " ").first != "Z"
}
