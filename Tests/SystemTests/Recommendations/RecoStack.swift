import Foundation
import MetroKit
import MetroProtocol
import MetroTestKit
import Recommendations

/// Broker, registry, one `metro worker recommendations`, a publisher for the
/// four consumed topics (shapes of docs/events.md §3 and spec B) and an rpc
/// client of the worker.
struct RecoStack {
    /// Heartbeats every 200 ms; no fsync (the tests do not crash the broker).
    static let brokerConfig = "heartbeatIntervalMs: 200\njournal:\n  fsync: never\n"

    let broker: BrokerHarness
    let registry: RegistryUnderTest
    let worker: RecommendationsWorker
    let publisher: Publisher
    let rpc: RpcClient

    init(brokerConfig: String = RecoStack.brokerConfig) async throws {
        broker = try await BrokerHarness(config: brokerConfig)
        registry = try await RegistryUnderTest()
        worker = try await RecommendationsWorker.launch(broker: broker, registry: registry.endpoint)
        publisher = try Publisher(.init(ingest: broker.ingest))
        rpc = try RpcClient(endpoints: [worker.rpc], service: Recommendations.serviceName)
    }

    func close() async {
        await rpc.close()
        await publisher.close()
    }

    func publish(_ topic: String, id: String, _ payload: String, schema: String = "1.0") async throws {
        _ = try await publisher.publish(
            topic: topic, payload: bytes(payload), headers: bytes("{\"schema\":\"\(schema)\"}"), eventID: bytes(id))
    }

    /// `video.processed` 1.0 as the video service publishes it.
    func processed(_ video: String, title: String, tags: [String], seconds: Double = 120, at ms: Int64 = 1_000)
        async throws
    {
        let tagList = tags.map { "\"\($0)\"" }.joined(separator: ",")
        try await publish(
            "video.processed", id: "processed-\(video)-\(ms)",
            """
            {"videoId":"\(video)","ownerId":"owner-1","title":"\(title)","tags":[\(tagList)],\
            "media":{"durationSeconds":\(seconds),"width":320,"height":240,"videoCodec":"h264","bitRate":400000,\
            "frameRate":25},"sourceBlobId":"\(String(repeating: "a", count: 64))",\
            "thumbnailBlobId":"\(String(repeating: "b", count: 64))","previewBlobId":"\(String(repeating: "c", count: 64))",\
            "processedAtMs":\(ms)}
            """)
    }

    /// `video.watched` 1.0.
    func watched(_ user: String, _ video: String, seconds: Int? = 120, at ms: Int64 = 2_000, id: String? = nil)
        async throws
    {
        let secondsField = seconds.map { ",\"secondsWatched\":\($0)" } ?? ""
        try await publish(
            "video.watched", id: id ?? "watched-\(user)-\(video)-\(ms)",
            "{\"userId\":\"\(user)\",\"videoId\":\"\(video)\",\"watchedAtMs\":\(ms)\(secondsField)}")
    }

    /// `profile.created` (version 1) or `profile.updated` (later versions).
    func profile(_ user: String, tags: [String], version: Int64 = 1) async throws {
        let tagList = tags.map { "\"\($0)\"" }.joined(separator: ",")
        let topic = version == 1 ? "profile.created" : "profile.updated"
        let changed = version == 1 ? "" : ",\"changed\":[\"favouriteTags\"]"
        try await publish(
            topic, id: "profile-\(user)-\(version)",
            """
            {"user":{"id":"\(user)","displayName":"User \(user)","email":"\(user)@example.com",\
            "favouriteTags":[\(tagList)],"createdAtMs":1,"updatedAtMs":\(version),"version":\(version)}\(changed)}
            """)
    }

    func get(_ user: String, limit: Int = 10, via client: RpcClient? = nil) async throws -> [Ranker.Recommendation] {
        try await (client ?? rpc).call(RecommendationsAPI.get, GetRecommendationsRequest(userId: user, limit: limit))
            .items
    }

    func stats(via client: RpcClient? = nil) async throws -> ModelStats {
        try await (client ?? rpc).call(RecommendationsAPI.stats, StatsRequest())
    }

    /// The group has taken everything journaled and finished it (ACKed or dead-lettered).
    func drained() async throws -> Bool {
        guard let g = try await broker.stats().groups[Recommendations.group] else { return false }
        return g.lag == 0 && g.pending == 0
    }
}
