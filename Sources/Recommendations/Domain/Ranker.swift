/// The ranking rules, as a pure function of what a request read from storage.
///
/// For a user with history H (videos with strength s_h > 0, the most recent
/// `historyLimit`), a candidate x scores
///
///     similarity(x) = Σ_h s_h · cos(h, x) / Σ_h s_h,   cos(h, x) = dot(h, x) / √(norm²(h) · norm²(x))
///     tags(x)       = Σ_{t ∈ tags(x)} a(t) / Σ_t a(t),  a(t) = [t favourite] + Σ_{h: t ∈ tags(h)} s_h / Σ_h s_h
///     popularity(x) = pop(x) / max_v pop(v)
///     score(x)      = wS · similarity + wT · tags + wP · popularity
///
/// A cold-start user (no history) gets `tags(x)` = 1 when x has a favourite tag
/// and 0 otherwise: since wT > wP, every video in a favourite tag comes before
/// any other, and popularity orders each part. Scores are rounded to 1e-9
/// (float sums of popularity may differ in their last bits with the order of
/// views), then ties break by video id, ascending. The reason names the largest
/// of the three terms.
public enum Ranker {
    /// A history video as a request sees it.
    public struct HistoryItem: Hashable, Sendable {
        public var videoId: String
        public var title: String
        public var tags: [String]
        public var strength: Int64
        public var norm2: Int64
        public init(videoId: String, title: String, tags: [String], strength: Int64, norm2: Int64) {
            self.videoId = videoId
            self.title = title
            self.tags = tags
            self.strength = strength
            self.norm2 = norm2
        }
    }

    /// A candidate video with the dot products to history videos that were read.
    public struct Candidate: Hashable, Sendable {
        public var videoId: String
        public var title: String
        public var tags: [String]
        public var popularity: Double
        public var norm2: Int64
        /// History video id → dot(h, x).
        public var dots: [String: Int64]
        public init(
            videoId: String, title: String, tags: [String], popularity: Double, norm2: Int64, dots: [String: Int64]
        ) {
            self.videoId = videoId
            self.title = title
            self.tags = tags
            self.popularity = popularity
            self.norm2 = norm2
            self.dots = dots
        }
    }

    public struct Recommendation: Codable, Hashable, Sendable {
        public var videoId: String
        public var title: String
        public var score: Double
        public var reason: String
        public init(videoId: String, title: String, score: Double, reason: String) {
            self.videoId = videoId
            self.title = title
            self.score = score
            self.reason = reason
        }
    }

    /// The top `limit` of `candidates` that are not in `watched`.
    public static func rank(
        history: [HistoryItem], favouriteTags: [String], watched: Set<String>, candidates: [Candidate],
        maxPopularity: Double, limit: Int, parameters p: ModelParameters = .standard
    ) -> [Recommendation] {
        let history = history.filter { $0.strength > 0 }.sorted { $0.videoId < $1.videoId }
        let total = Double(history.reduce(Int64(0)) { $0 + $1.strength })
        let affinity = tagAffinity(history: history, total: total, favourites: favouriteTags)
        let affinityTotal = affinity.keys.sorted().reduce(0.0) { $0 + affinity[$1]! }
        let favourites = Set(favouriteTags)
        // Every candidate (~1,000) is scored; only the `limit` kept get their
        // reason's text, so the loop allocates nothing per candidate that it
        // can avoid.
        struct Scored {
            var key: Int64
            var candidate: Int
            var terms: (similarity: Double, tags: Double, popularity: Double)
            var because: (value: Double, title: String, id: String)?
        }
        var scored: [Scored] = []
        scored.reserveCapacity(candidates.count)
        for (index, x) in candidates.enumerated() where !watched.contains(x.videoId) {
            var similarity = 0.0
            var because: (value: Double, title: String, id: String)?
            if total > 0 {
                for h in history {
                    guard let dot = x.dots[h.videoId], dot > 0, h.norm2 > 0, x.norm2 > 0 else { continue }
                    let weighted = Double(h.strength) * Double(dot) / (Double(h.norm2) * Double(x.norm2)).squareRoot()
                    similarity += weighted
                    if because == nil || weighted > because!.value
                        || (weighted == because!.value && h.videoId < because!.id)
                    {
                        because = (weighted, h.title, h.videoId)
                    }
                }
                similarity /= total
            }
            let tags: Double
            if history.isEmpty {
                tags = x.tags.contains(where: favourites.contains) ? 1 : 0
            } else if affinityTotal > 0 {
                // Summed in tag order, so the float sum is the same whatever order the tags were stored in.
                let sum =
                    x.tags.count < 2
                    ? x.tags.first.map { affinity[$0] ?? 0 } ?? 0
                    : x.tags.sorted().reduce(0.0) { $0 + (affinity[$1] ?? 0) }
                tags = sum / affinityTotal
            } else {
                tags = 0
            }
            let popularity = maxPopularity > 0 ? x.popularity / maxPopularity : 0
            let terms = (p.similarityWeight * similarity, p.tagWeight * tags, p.popularityWeight * popularity)
            let score = terms.0 + terms.1 + terms.2
            scored.append(
                Scored(key: Int64((score * 1e9).rounded()), candidate: index, terms: terms, because: because))
        }
        scored.sort {
            $0.key != $1.key ? $0.key > $1.key : candidates[$0.candidate].videoId < candidates[$1.candidate].videoId
        }
        return scored.prefix(limit).map { s in
            let x = candidates[s.candidate]
            let reason: String
            if let because = s.because, s.terms.similarity >= s.terms.tags, s.terms.similarity >= s.terms.popularity,
                s.terms.similarity > 0
            {
                reason = "because you watched \(because.title)"
            } else if let bestTag = x.tags.filter({ (affinity[$0] ?? 0) > 0 }).min(by: {
                (affinity[$0]!, $1) > (affinity[$1]!, $0)
            }), s.terms.tags >= s.terms.popularity, s.terms.tags > 0 {
                reason = "popular in \(bestTag)"
            } else {
                reason = "popular now"
            }
            return Recommendation(videoId: x.videoId, title: x.title, score: Double(s.key) / 1e9, reason: reason)
        }
    }

    /// a(t) for every tag the user has an affinity to (see the type's formula).
    public static func tagAffinity(history: [HistoryItem], total: Double, favourites: [String]) -> [String: Double] {
        var affinity: [String: Double] = [:]
        for tag in favourites { affinity[tag, default: 0] += 1 }
        guard total > 0 else { return affinity }
        for h in history.sorted(by: { $0.videoId < $1.videoId }) where h.strength > 0 {
            for tag in h.tags { affinity[tag, default: 0] += Double(h.strength) / total }
        }
        return affinity
    }

    /// The `count` tags of highest affinity (ties: by name), for candidate reads.
    public static func topTags(_ affinity: [String: Double], count: Int) -> [String] {
        affinity.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.prefix(count).map(\.key)
    }
}
