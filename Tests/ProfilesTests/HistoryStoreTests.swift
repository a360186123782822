import GRDB
import Profiles
import Testing

@Suite struct HistoryStoreTests {
    private func watched(_ video: String, at ms: Int64, user: String = "u-1") -> VideoWatched {
        VideoWatched(userId: user, videoId: video, watchedAtMs: ms, secondsWatched: 60)
    }

    private func count(_ db: TestDatabase) throws -> Int {
        try db.queue.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM watch_history") } ?? -1
    }

    @Test func theSameEventIdMakesOneEntry() throws {
        let db = try TestDatabase()
        try db.user("u-1", email: "ada@example.com")
        #expect(try db.write { try HistoryStore.record(watched("v-1", at: 10), eventId: "e-1", in: $0) })
        #expect(try !db.write { try HistoryStore.record(watched("v-1", at: 10), eventId: "e-1", in: $0) })
        #expect(try count(db) == 1)
    }

    @Test func theTableItselfRefusesASecondRowForOneEvent() throws {
        let db = try TestDatabase()
        try db.user("u-1", email: "ada@example.com")
        try db.write { try HistoryStore.record(watched("v-1", at: 10), eventId: "e-1", in: $0) }
        #expect(throws: DatabaseError.self) {
            try db.write { db in
                try db.execute(
                    sql:
                        "INSERT INTO watch_history (event_id, user_id, video_id, watched_at) VALUES ('e-1', 'u-1', 'v-2', 11)"
                )
            }
        }
    }

    @Test func unknownUserIsNotFoundForRecordAndPage() throws {
        let db = try TestDatabase()
        #expect(
            profileError {
                _ = try db.write { try HistoryStore.record(watched("v", at: 1, user: "ghost"), eventId: "e", in: $0) }
            }?.kind == .notFound)
        #expect(
            profileError { _ = try db.queue.read { try HistoryStore.page(HistoryRequest(userId: "ghost"), in: $0) } }?
                .kind == .notFound)
        #expect(try count(db) == 0)
    }

    @Test func aKnownUserWithoutHistoryGetsAnEmptyLastPage() throws {
        let db = try TestDatabase()
        try db.user("u-1", email: "ada@example.com")
        #expect(
            try db.queue.read { try HistoryStore.page(HistoryRequest(userId: "u-1"), in: $0) }
                == HistoryPage(entries: [], nextCursor: nil))
    }

    @Test func invalidPayloadsArePermanentErrors() throws {
        let db = try TestDatabase()
        try db.user("u-1", email: "ada@example.com")
        let negative = VideoWatched(userId: "u-1", videoId: "v", watchedAtMs: -1)
        #expect(
            profileError { _ = try db.write { try HistoryStore.record(negative, eventId: "e", in: $0) } }?.kind
                == .invalid)
        #expect(
            profileError { _ = try db.write { try HistoryStore.record(watched("", at: 1), eventId: "e", in: $0) } }?
                .kind == .invalid)
    }

    @Test func pagesAreNewestFirstWithTiesByArrivalAndCursorsCoverEverythingOnce() throws {
        let db = try TestDatabase()
        try db.user("u-1", email: "ada@example.com")
        try db.user("u-2", email: "bob@example.com")
        // Out of order watch times, three equal ones, and another user's entries between.
        let times: [Int64] = [50, 10, 30, 30, 70, 30, 20]
        for (i, ms) in times.enumerated() {
            try db.write { db in
                try HistoryStore.record(watched("v-\(i)", at: ms), eventId: "e-\(i)", in: db)
                try HistoryStore.record(watched("x-\(i)", at: ms, user: "u-2"), eventId: "other-\(i)", in: db)
            }
        }
        var pages: [[String]] = []
        var cursor: String?
        repeat {
            let page = try db.queue.read {
                try HistoryStore.page(HistoryRequest(userId: "u-1", limit: 3, cursor: cursor), in: $0)
            }
            pages.append(page.entries.map(\.videoId))
            cursor = page.nextCursor
        } while cursor != nil
        // 70, 50, then the three 30s latest arrival first, 20, 10.
        #expect(pages == [["v-4", "v-0", "v-5"], ["v-3", "v-2", "v-6"], ["v-1"]])
    }

    @Test func aFullLastPageHasNoCursor() throws {
        let db = try TestDatabase()
        try db.user("u-1", email: "ada@example.com")
        for i in 0..<4 {
            try db.write { try HistoryStore.record(watched("v-\(i)", at: Int64(i)), eventId: "e-\(i)", in: $0) }
        }
        let first = try db.queue.read { try HistoryStore.page(HistoryRequest(userId: "u-1", limit: 2), in: $0) }
        let second = try db.queue.read {
            try HistoryStore.page(HistoryRequest(userId: "u-1", limit: 2, cursor: first.nextCursor), in: $0)
        }
        #expect(second.entries.map(\.videoId) == ["v-1", "v-0"])
        #expect(second.nextCursor == nil)
    }

    @Test func entriesAddedBetweenPagesDoNotShiftThem() throws {
        let db = try TestDatabase()
        try db.user("u-1", email: "ada@example.com")
        for i in 0..<4 {
            try db.write { try HistoryStore.record(watched("v-\(i)", at: Int64(i)), eventId: "e-\(i)", in: $0) }
        }
        let first = try db.queue.read { try HistoryStore.page(HistoryRequest(userId: "u-1", limit: 2), in: $0) }
        try db.write { try HistoryStore.record(watched("new", at: 100), eventId: "e-new", in: $0) }
        let second = try db.queue.read {
            try HistoryStore.page(HistoryRequest(userId: "u-1", limit: 2, cursor: first.nextCursor), in: $0)
        }
        #expect(first.entries.map(\.videoId) == ["v-3", "v-2"])
        #expect(second.entries.map(\.videoId) == ["v-1", "v-0"])
    }

    @Test func pageSizeIsBoundedAndDefaultsToTwenty() throws {
        let db = try TestDatabase()
        try db.user("u-1", email: "ada@example.com")
        for i in 0..<25 {
            try db.write { try HistoryStore.record(watched("v-\(i)", at: Int64(i)), eventId: "e-\(i)", in: $0) }
        }
        #expect(try db.queue.read { try HistoryStore.page(HistoryRequest(userId: "u-1"), in: $0) }.entries.count == 20)
        for limit in [0, -1, 101] {
            #expect(
                profileError {
                    _ = try db.queue.read { try HistoryStore.page(HistoryRequest(userId: "u-1", limit: limit), in: $0) }
                }?.kind == .invalid)
        }
        #expect(
            profileError {
                _ = try db.queue.read {
                    try HistoryStore.page(HistoryRequest(userId: "u-1", cursor: "garbage"), in: $0)
                }
            }?.kind == .invalid)
    }
}
