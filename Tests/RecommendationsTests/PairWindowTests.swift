import Foundation
import GRDB
import MetroTestKit
import Testing

@testable import Recommendations

/// The co-occurrence window (`PairWindow`): which pairs a view changes, that
/// the incremental steps equal the from-scratch definition in any order of
/// events, what a view costs for a user with a long history, and the migration
/// that brought the window to a model built without it.
@Suite struct PairWindowTests {
    typealias Storage = ModelStorageTests

    static func narrow(_ window: Int) -> ModelParameters {
        var p = ModelParameters.standard
        p.pairWindow = window
        return p
    }

    static func apply(_ events: [ModelEvent], parameters: ModelParameters, to db: DatabaseQueue) throws {
        try db.write { db in for e in events { try ModelUpdate.apply(e, parameters: parameters, in: db) } }
    }

    static func pairs(_ db: DatabaseQueue) throws -> [String: Int64] {
        try db.read { db in
            var out: [String: Int64] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT video_a, video_b, dot FROM reco_pairs") {
                out["\(row["video_a"] as String)-\(row["video_b"] as String)"] = row["dot"]
            }
            return out
        }
    }

    @Test func videosPairOnlyWithinTheWindowOfTheirFirstViews() throws {
        let db = try Storage.database()
        let p = Self.narrow(2)
        let base: Int64 = 1_767_225_600_000
        // u1 first watches v1 … v5 in that order (full views: strength 1e6).
        let events: [ModelEvent] =
            (1...5).map { Storage.video("v\($0)") }
            + (1...5).map { Storage.view("u1", "v\($0)", at: base + Int64($0) * 1000) }
        try Self.apply(events, parameters: p, to: db)
        let full: Int64 = 1_000_000 * 1_000_000
        let expected: [String: Int64] = [
            "v1-v2": full, "v1-v3": full, "v2-v3": full, "v2-v4": full, "v3-v4": full, "v3-v5": full, "v4-v5": full,
        ].reduce(into: [:]) { out, pair in
            let parts = pair.key.split(separator: "-")
            out[pair.key] = pair.value
            out["\(parts[1])-\(parts[0])"] = pair.value
        }
        #expect(try Self.pairs(db) == expected)

        // A view of v6 placed before everything (watched earlier, arriving
        // late) pushes v2-v4 and v3-v5 apart by one place: out of the window.
        try Self.apply(
            [Storage.video("v6"), Storage.view("u1", "v6", at: base)], parameters: p, to: db)
        let now = try Self.pairs(db)
        #expect(now["v6-v1"] == full && now["v6-v2"] == full && now["v6-v3"] == nil)
        #expect(now["v2-v4"] == full && now["v3-v5"] == full)  // v6 is before v1: nothing straddles it
        #expect(now["v1-v3"] == full)

        // v7 first watched between v2 and v3: v1-v3 and v2-v4 straddle it 2
        // apart and fall out; v7 pairs with v1, v2 (before) and v3, v4 (after).
        try Self.apply(
            [Storage.video("v7"), Storage.view("u1", "v7", at: base + 2500)], parameters: p, to: db)
        let after = try Self.pairs(db)
        #expect(after["v1-v3"] == nil && after["v3-v1"] == nil && after["v2-v4"] == nil)
        #expect(after["v7-v1"] == full && after["v7-v2"] == full && after["v7-v3"] == full && after["v7-v4"] == full)
        #expect(after["v7-v5"] == nil && after["v7-v6"] == nil)
        try Self.expectEqualsRebuild(db, window: 2)
    }

    /// Random worlds: users with long histories, views out of order (earlier
    /// views arriving late move a video back), repeats, views before their
    /// video is catalogued, durations that change. Applied in two orders, the
    /// tables are equal, and equal to `PairWindow.rebuild`'s.
    @Test(arguments: [1, 3, 20]) func anyOrderGivesTheDefinitionsPairs(window: Int) async throws {
        // A second of SQLite work in a debug build: on a thread of its own (`offPool`).
        let r = try await offPool { try Self.twoOrders(window: window) }
        #expect(r.dumpInOrder == r.dumpReordered)
        #expect(!r.pairsInOrder.isEmpty)
        #expect(r.incremental == r.rebuilt)
    }

    struct TwoOrders: Sendable {
        var dumpInOrder: [String]
        var dumpReordered: [String]
        var pairsInOrder: [String: Int64]
        var incremental: [String: Int64]
        var rebuilt: [String: Int64]
    }

    static func twoOrders(window: Int) throws -> TwoOrders {
        do {
            var random = MetroTestKit.SplitMix64(seed: UInt64(window) &* 7919 &+ 1)
            let p = Self.narrow(window)
            var events: [ModelEvent] = []
            for v in 0..<40 {
                events.append(Storage.video("v\(v)", seconds: Int64(50 + random.next() % 100), at: 1))
                if random.next() % 4 == 0 {  // a later version with another duration
                    events.append(Storage.video("v\(v)", seconds: Int64(20 + random.next() % 100), at: 2))
                }
            }
            for u in 0..<6 {
                for n in 0..<(u == 0 ? 120 : 25) {
                    let video = "v\(random.next() % 40)"
                    let at = 1_767_225_600_000 + Int64(random.next() % 500) * 1000  // collisions on purpose
                    let seconds: Int64? = random.next() % 5 == 0 ? nil : Int64(random.next() % 90)
                    events.append(Storage.view("u\(u)", video, seconds: seconds, at: at, id: "w-\(u)-\(n)"))
                }
            }
            var shuffled = events
            for i in stride(from: shuffled.count - 1, to: 0, by: -1) {
                shuffled.swapAt(i, Int(random.next() % UInt64(i + 1)))
            }
            let inOrder = try Storage.database()
            let reordered = try Storage.database()
            try Self.apply(events, parameters: p, to: inOrder)
            try Self.apply(shuffled + events.prefix(30), parameters: p, to: reordered)  // with repeats
            let dumps = (try Storage.dump(inOrder), try Storage.dump(reordered))
            let incremental = try Self.pairs(reordered)
            try reordered.write { db in try PairWindow.rebuild(window: window, in: db) }
            return TwoOrders(
                dumpInOrder: dumps.0, dumpReordered: dumps.1, pairsInOrder: try Self.pairs(inOrder),
                incremental: incremental, rebuilt: try Self.pairs(reordered))
        }
    }

    /// A view of a user with a long history changes a bounded number of rows:
    /// before the window, each new video of this user cost two upserts per
    /// video watched before (1,000 here).
    @Test func aViewCostsTheSameWhateverTheHistory() async throws {
        let p = ModelParameters.standard
        let k = p.pairWindow
        // Bounds in rows: a pair's change is 2 upserts (and 2 deletes when it
        // leaves); a first view also pushes up to k straddling pairs out; a
        // late earlier view takes the video's pairs away, closes its old place,
        // opens the new one and pairs it again. Plus the view's own few rows.
        let (measured, incremental, rebuilt) = try await offPool {
            () throws -> ([(label: String, changes: Int, bound: Int)], [String: Int64], [String: Int64]) in
            let db = try Storage.database()
            let base: Int64 = 1_767_225_600_000
            try Self.apply(
                (0..<1001).map { Storage.video("v\($0)") }
                    + (0..<1000).map { Storage.view("heavy", "v\($0)", seconds: 50, at: base + Int64($0) * 1000) },
                parameters: p, to: db)
            var measured: [(label: String, changes: Int, bound: Int)] = []
            for (label, view, bound) in [
                ("a new video, watched last", Storage.view("heavy", "v1000", at: base + 2_000_000), 2 * k),
                (
                    "a new video in the middle of the history", Storage.view("heavy", "v1000x", at: base + 500_500),
                    4 * k
                ),
                ("a video watched again", Storage.view("heavy", "v10", seconds: 30, at: base + 3_000_000), 4 * k),
                (
                    "an earlier view of a video, arriving late",
                    Storage.view("heavy", "v900", seconds: 10, at: base - 1), 18 * k
                ),
            ] {
                let changes = try db.write { db in
                    let before = db.totalChangesCount
                    try ModelUpdate.apply(view, parameters: p, in: db)
                    return db.totalChangesCount - before
                }
                measured.append((label, changes, bound))
            }
            let incremental = try Self.pairs(db)
            try db.write { db in try PairWindow.rebuild(window: k, in: db) }
            return (measured, incremental, try Self.pairs(db))
        }
        for m in measured {
            #expect(m.changes <= m.bound + 8, "\(m.label): \(m.changes) rows changed")
            #expect(m.changes > 0, "\(m.label)")
        }
        #expect(incremental == rebuilt)
    }

    /// A model built before the window (every pair of a user's videos) gets
    /// first-view times from its views and the window's pairs.
    @Test func theMigrationRebuildsPairsUnderTheWindow() throws {
        let db = try DatabaseQueue()
        var migrator = DatabaseMigrator()
        ModelSchema.register(in: &migrator)
        try migrator.migrate(db, upTo: "recommendations-1-model")
        let base: Int64 = 1_767_225_600_000
        let count = ModelParameters.standard.pairWindow + 5
        try db.write { db in
            for v in 0..<count {
                try db.execute(
                    sql: "INSERT INTO reco_videos (video_id, catalogued, duration_ms, norm2) VALUES (?, 1, 100000, ?)",
                    arguments: ["v\(v)", Int64(1_000_000) * 1_000_000])
                // Two views each; the first-view time is the smaller one.
                for (n, at) in [base + Int64(v) * 1000 + 500_000, base + Int64(v) * 1000].enumerated() {
                    try db.execute(
                        sql: "INSERT INTO reco_views VALUES (?, 'u', ?, ?, 50)", arguments: ["e\(v)-\(n)", "v\(v)", at])
                }
                try db.execute(
                    sql: "INSERT INTO reco_user_items VALUES ('u', ?, 2, 100, 0, ?, 1000000)",
                    arguments: ["v\(v)", base + Int64(v) * 1000 + 500_000])
                for w in 0..<v {  // the pairs as the model without a window kept them
                    for (a, b) in [(v, w), (w, v)] {
                        try db.execute(
                            sql: "INSERT INTO reco_pairs VALUES (?, ?, ?)",
                            arguments: ["v\(a)", "v\(b)", Int64(1_000_000) * 1_000_000])
                    }
                }
            }
        }
        try migrator.migrate(db)
        let firsts = try db.read { db in
            try Int64.fetchAll(db, sql: "SELECT first_watched_ms FROM reco_user_items ORDER BY video_id")
        }
        #expect(Set(firsts) == Set((0..<count).map { base + Int64($0) * 1000 }))
        let pairs = try Self.pairs(db)
        #expect(pairs.count == 2 * (0..<count).reduce(0) { $0 + min($1, ModelParameters.standard.pairWindow) })
        #expect(pairs["v0-v\(ModelParameters.standard.pairWindow)"] != nil)
        #expect(pairs["v0-v\(ModelParameters.standard.pairWindow + 1)"] == nil)
        try Self.expectEqualsRebuild(db, window: ModelParameters.standard.pairWindow)
    }

    /// The tables are what `PairWindow.rebuild` computes from scratch.
    static func expectEqualsRebuild(
        _ db: DatabaseQueue, window: Int, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let incremental = try Self.pairs(db)
        try db.write { db in try PairWindow.rebuild(window: window, in: db) }
        #expect(try Self.pairs(db) == incremental, sourceLocation: sourceLocation)
    }
}
