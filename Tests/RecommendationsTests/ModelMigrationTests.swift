import Foundation
import GRDB
import Testing

@testable import Recommendations

/// The model's later migrations on a database that an earlier version wrote,
/// and the plans of the reads that must not grow with the catalogue.
@Suite struct ModelMigrationTests {
    @Test func tagRowsGetTheirVideosPopularityAndAnIndex() throws {
        let db = try DatabaseQueue()
        var migrator = DatabaseMigrator()
        ModelSchema.register(in: &migrator)
        try migrator.migrate(db, upTo: "recommendations-2-pair-window")
        try db.write { db in
            for (video, popularity) in [("a", 2.5), ("b", 7.25), ("c", 0.0)] {
                try db.execute(
                    sql: "INSERT INTO reco_videos (video_id, catalogued, popularity) VALUES (?, 1, ?)",
                    arguments: [video, popularity])
                try db.execute(sql: "INSERT INTO reco_video_tags VALUES ('jazz', ?)", arguments: [video])
            }
            try db.execute(sql: "INSERT INTO reco_video_tags VALUES ('rock', 'b')")
        }
        try migrator.migrate(db)
        let rows = try db.read { db in
            try Row.fetchAll(db, sql: "SELECT tag, video_id, popularity FROM reco_video_tags ORDER BY tag, video_id")
                .map { "\($0["tag"] as String) \($0["video_id"] as String) \($0["popularity"] as Double)" }
        }
        #expect(rows == ["jazz a 2.5", "jazz b 7.25", "jazz c 0.0", "rock b 7.25"])
        let popular = try db.read { db in
            try String.fetchAll(db, sql: ModelQueries.popularInTag, arguments: ["jazz", 2])
        }
        #expect(popular == ["b", "a"])
    }

    /// "Popular in <tag>" reads an index range in order: no sort of the tag's
    /// videos (a temporary B-tree) per request, however many it holds.
    @Test func popularInATagIsAnIndexRangeWithoutASort() throws {
        let db = try ModelStorageTests.database()
        let plan = try db.read { db in
            try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + ModelQueries.popularInTag, arguments: ["jazz", 10])
                .map { $0["detail"] as String }
        }
        #expect(plan.contains { $0.contains("reco_video_tags_popular") }, "\(plan)")
        #expect(!plan.contains { $0.contains("TEMP B-TREE") }, "\(plan)")
    }

    /// A view updates its video's tag rows through an index, not a scan of
    /// every tag row.
    @Test func aViewFindsItsVideosTagRowsByIndex() throws {
        let db = try ModelStorageTests.database()
        let plan = try db.read { db in
            try Row.fetchAll(
                db, sql: "EXPLAIN QUERY PLAN UPDATE reco_video_tags SET popularity = 1 WHERE video_id = ?",
                arguments: ["a"]
            ).map { $0["detail"] as String }
        }
        #expect(plan.contains { $0.contains("reco_video_tags_by_video") }, "\(plan)")
    }

    /// A view keeps the copies equal to the video's popularity.
    @Test func viewsKeepTheTagRowsCopiesEqual() throws {
        let db = try ModelStorageTests.database()
        try ModelStorageTests.apply(ModelStorageTests.world, to: db)
        let mismatched = try db.read { db in
            try Int.fetchOne(
                db,
                sql: """
                    SELECT COUNT(*) FROM reco_video_tags t JOIN reco_videos v ON v.video_id = t.video_id
                    WHERE t.popularity != v.popularity
                    """)
        }
        let tagged = try db.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM reco_video_tags") }
        #expect(mismatched == 0)
        #expect((tagged ?? 0) > 0)
    }
}
