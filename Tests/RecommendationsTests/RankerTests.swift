import Testing

@testable import Recommendations

@Suite struct RankerTests {
    typealias C = Ranker.Candidate
    typealias H = Ranker.HistoryItem

    func candidate(
        _ id: String, tags: [String] = [], popularity: Double = 0, norm2: Int64 = 0, dots: [String: Int64] = [:]
    ) -> C {
        C(videoId: id, title: "T\(id)", tags: tags, popularity: popularity, norm2: norm2, dots: dots)
    }

    @Test func excludesWhatTheUserWatched() {
        let ranked = Ranker.rank(
            history: [], favouriteTags: [], watched: ["a"],
            candidates: [candidate("a", popularity: 9), candidate("b", popularity: 1)], maxPopularity: 9, limit: 10)
        #expect(ranked.map(\.videoId) == ["b"])
    }

    @Test func coldStartPutsFavouriteTagsFirstThenPopularity() {
        let ranked = Ranker.rank(
            history: [], favouriteTags: ["jazz"], watched: [],
            candidates: [
                candidate("pop", tags: ["rock"], popularity: 100), candidate("j1", tags: ["jazz"], popularity: 1),
                candidate("j2", tags: ["jazz", "live"], popularity: 5), candidate("x", popularity: 50),
            ], maxPopularity: 100, limit: 10)
        #expect(ranked.map(\.videoId) == ["j2", "j1", "pop", "x"])
        #expect(ranked[0].reason == "popular in jazz")
        #expect(ranked[2].reason == "popular now")
    }

    @Test func tiesBreakByVideoId() {
        let ranked = Ranker.rank(
            history: [], favouriteTags: [], watched: [],
            candidates: [candidate("c", popularity: 2), candidate("a", popularity: 2), candidate("b", popularity: 2)],
            maxPopularity: 2, limit: 2)
        #expect(ranked.map(\.videoId) == ["a", "b"])
    }

    @Test func similarityToTheHistoryWinsAndNamesTheVideo() {
        let history = [
            H(videoId: "h1", title: "Lighthouse", tags: [], strength: 1_000_000, norm2: 2_000_000_000_000),
            H(videoId: "h2", title: "Harbour", tags: [], strength: 500_000, norm2: 1_000_000_000_000),
        ]
        let ranked = Ranker.rank(
            history: history, favouriteTags: [], watched: ["h1", "h2"],
            candidates: [
                candidate("near", norm2: 1_000_000_000_000, dots: ["h1": 1_000_000_000_000]),
                candidate("popular", popularity: 10),
            ], maxPopularity: 10, limit: 10)
        #expect(ranked.map(\.videoId) == ["near", "popular"])
        #expect(ranked[0].reason == "because you watched Lighthouse")
        // cos(h1, near) = 1e12 / √(2e12 · 1e12) = 1/√2; similarity = (1 · 1/√2) / 1.5.
        let expected = 0.6 * (1 / 2.0.squareRoot()) / 1.5
        #expect(abs(ranked[0].score - expected) < 1e-9)
    }

    @Test func tagAffinityComesFromFavouritesAndWatchedTags() {
        let history = [H(videoId: "h", title: "H", tags: ["drama"], strength: 800_000, norm2: 1)]
        let affinity = Ranker.tagAffinity(history: history, total: 800_000, favourites: ["jazz"])
        #expect(affinity == ["jazz": 1, "drama": 1])
        let ranked = Ranker.rank(
            history: history, favouriteTags: ["jazz"], watched: ["h"],
            candidates: [
                candidate("d", tags: ["drama"]), candidate("both", tags: ["drama", "jazz"]), candidate("none"),
            ],
            maxPopularity: 0, limit: 10)
        #expect(ranked.map(\.videoId) == ["both", "d", "none"])
        #expect(ranked[1].reason == "popular in drama")
        #expect(Ranker.topTags(["b": 1, "a": 1, "c": 2], count: 2) == ["c", "a"])
    }
}
