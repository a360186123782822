import Foundation
public import GRDB

/// Leave-last-out evaluation of the model against a popularity baseline.
///
/// Each user's interactions are sorted by (timestamp, item); users with at
/// least two keep their last one aside (the test set) and the rest is fed to
/// the model through `ModelUpdate.apply`, the same code the `video.watched`
/// handler runs, in an in-memory SQLite database with the service's schema.
/// Every item enters the catalogue as a `video.processed` of 5 s; a rating r
/// becomes a view of r seconds (share r/5, so 5 stars is a full view).
///
/// Then, per test user, the model's top `k` (`ModelQueries.recommendations`,
/// the rpc's own read) and the baseline's top `k` — the items with the most
/// training interactions (ties by id), without those the user has — are scored
/// against the held-out item: HitRate@k (the share of users whose item is in
/// the list) and NDCG@k (1/log2(rank + 1) for a hit at 1-based rank, else 0;
/// with one relevant item the ideal DCG is 1).
public struct OfflineEvaluation: Sendable {
    public struct Metrics: Hashable, Sendable {
        public var hitRate: Double
        public var ndcg: Double
    }

    public struct Report: Hashable, Sendable {
        public var users: Int
        public var items: Int
        public var trainingInteractions: Int
        public var testUsers: Int
        public var k: Int
        public var model: Metrics
        public var popularity: Metrics
        public var feedSeconds: Double
        public var rankSeconds: Double
    }

    public var k = 10
    public var parameters = ModelParameters.standard

    public init() {}

    public func run(_ interactions: [Interaction]) throws -> Report {
        let byUser = Dictionary(grouping: interactions, by: \.user).mapValues {
            $0.sorted { ($0.timestamp, $0.item) < ($1.timestamp, $1.item) }
        }
        var training: [Interaction] = []
        var test: [String: String] = [:]
        for (user, list) in byUser {
            if list.count >= 2 {
                training += list.dropLast()
                test[user] = list.last!.item
            } else {
                training += list
            }
        }
        let db = try DatabaseQueue()
        var migrator = DatabaseMigrator()
        ModelSchema.register(in: &migrator)
        try migrator.migrate(db)
        let items = Set(interactions.map(\.item)).sorted()
        let feedStart = ContinuousClock.now
        try db.write { db in
            for item in items { try ModelUpdate.apply(.video(Self.catalogue(item)), parameters: parameters, in: db) }
            for (n, i) in training.enumerated() {
                try ModelUpdate.apply(.view(Self.view(i, n: n)), parameters: parameters, in: db)
            }
        }
        let feedSeconds = (ContinuousClock.now - feedStart).seconds
        let counts = Dictionary(grouping: training, by: \.item).mapValues(\.count)
        let popular = counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.map(\.key)
        let seen = Dictionary(grouping: training, by: \.user).mapValues { Set($0.map(\.item)) }
        var model = (hits: 0, gain: 0.0)
        var baseline = (hits: 0, gain: 0.0)
        let rankStart = ContinuousClock.now
        try db.read { db in
            for (user, held) in test.sorted(by: { $0.key < $1.key }) {
                let ranked = try ModelQueries.recommendations(for: user, limit: k, parameters: parameters, in: db)
                Self.score(ranked.map(\.videoId), held, into: &model)
                let mine = seen[user] ?? []
                Self.score(Array(popular.lazy.filter { !mine.contains($0) }.prefix(k)), held, into: &baseline)
            }
        }
        let n = Double(max(test.count, 1))
        return Report(
            users: byUser.count, items: items.count, trainingInteractions: training.count, testUsers: test.count,
            k: k, model: Metrics(hitRate: Double(model.hits) / n, ndcg: model.gain / n),
            popularity: Metrics(hitRate: Double(baseline.hits) / n, ndcg: baseline.gain / n),
            feedSeconds: feedSeconds, rankSeconds: (ContinuousClock.now - rankStart).seconds)
    }

    static func score(_ list: [String], _ held: String, into total: inout (hits: Int, gain: Double)) {
        guard let rank = list.firstIndex(of: held) else { return }
        total.hits += 1
        total.gain += 1 / log2(Double(rank + 2))
    }

    /// An item as the catalogue holds it: title "item <id>", 5 s long, no tags.
    static func catalogue(_ item: String) -> CatalogueVideo {
        CatalogueVideo(
            videoId: item, title: "item \(item)", tags: [], durationMs: 5000, processedAtMs: 0, eventId: "c-\(item)")
    }

    /// A rating as a view: r seconds of a 5 s video, at the rating's time.
    static func view(_ i: Interaction, n: Int) -> View {
        View(
            eventId: "r-\(n)", userId: i.user, videoId: i.item, watchedAtMs: i.timestamp * 1000,
            secondsWatched: Int64(min(5, max(1, i.rating.rounded()))))
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
