import Bookmarks
import Foundation
import GRDB
import Testing

/// The storage functions against a real SQLite file, as the runtime runs them.
@Suite struct BookmarksStoreTests {
    func database() throws -> DatabaseQueue {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("bookmarks-\(UUID()).sqlite").path
        let db = try DatabaseQueue(path: path)
        var migrator = DatabaseMigrator()
        BookmarksStore.register(in: &migrator)
        try migrator.migrate(db)
        return db
    }

    @Test func addingTwiceKeepsOneBookmarkAndSaysWhichWasNew() throws {
        let db = try database()
        let first = try db.write { try BookmarksStore.add(AddBookmark(userId: "u", videoId: "v"), nowMs: 1, in: $0) }
        let again = try db.write { try BookmarksStore.add(AddBookmark(userId: "u", videoId: "v"), nowMs: 2, in: $0) }
        #expect(first.isNew && !again.isNew)
        #expect(try db.read { try BookmarksStore.list(userId: "u", in: $0) }.map(\.createdAtMs) == [1])
    }

    @Test func viewsAreCountedPerVideo() throws {
        let db = try database()
        try db.write { _ = try BookmarksStore.add(AddBookmark(userId: "u", videoId: "v"), nowMs: 1, in: $0) }
        try db.write { db in for _ in 0..<3 { try BookmarksStore.countView(of: "v", in: db) } }
        #expect(try db.read { try BookmarksStore.list(userId: "u", in: $0) }.first?.views == 3)
    }
}
