import GRDB
import Profiles
import Testing

@Suite struct UserStoreTests {
    @Test func createThenGetReturnsTheSameUserAtVersionOne() throws {
        let db = try TestDatabase()
        let created = try db.write { db in
            try UserStore.create(
                CreateProfileRequest(displayName: " Ada ", email: "Ada@Example.com", favouriteTags: ["Jazz", "jazz"]),
                id: "u-1", nowMs: 1_000, in: db)
        }
        #expect(
            created
                == User(
                    id: "u-1", displayName: "Ada", email: "Ada@Example.com", favouriteTags: ["jazz"],
                    createdAtMs: 1_000,
                    updatedAtMs: 1_000, version: 1))
        #expect(try db.queue.read { try UserStore.get(id: "u-1", in: $0) } == created)
    }

    @Test func getOfAnUnknownUserIsNotFound() throws {
        let db = try TestDatabase()
        #expect(profileError { _ = try db.queue.read { try UserStore.get(id: "nobody", in: $0) } }?.kind == .notFound)
    }

    @Test func invalidFieldsAreRefusedAndNothingIsStored() throws {
        let db = try TestDatabase()
        let error = profileError {
            try db.write { db in
                _ = try UserStore.create(
                    CreateProfileRequest(displayName: "Ada", email: "not-an-email"), id: "u-1", nowMs: 1, in: db)
            }
        }
        #expect(error?.kind == .invalid)
        #expect(try db.queue.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM users") } == 0)
    }

    @Test func emailIsUniqueCaseInsensitively() throws {
        let db = try TestDatabase()
        try db.user("u-1", email: "ada@example.com")
        let error = profileError { try db.user("u-2", email: "  ADA@example.COM") }
        #expect(error == ProfileError(.conflict, "email: another user has this address"))
    }

    @Test func theUniqueIndexAloneRefusesASharedEmail() throws {
        // Whatever the checks above it do, the table itself refuses two users
        // with one address: two instances share the file.
        let db = try TestDatabase()
        try db.user("u-1", email: "ada@example.com")
        #expect(throws: DatabaseError.self) {
            try db.write { db in
                try db.execute(
                    sql: "INSERT INTO users VALUES ('u-2', 'B', 'x', 'ada@example.com', '[]', 1, 1, 1)")
            }
        }
    }

    @Test func partialUpdateChangesOnlyTheGivenFieldsAndBumpsTheVersion() throws {
        let db = try TestDatabase()
        let user = try db.user("u-1", email: "ada@example.com", nowMs: 1_000)
        let updated = try db.write { db in
            try UserStore.update(
                UpdateProfileRequest(id: "u-1", version: 1, favouriteTags: ["Drama"]), nowMs: 2_000, in: db)
        }
        var expected = user
        expected.favouriteTags = ["drama"]
        expected.updatedAtMs = 2_000
        expected.version = 2
        #expect(updated == expected)
        #expect(try db.queue.read { try UserStore.get(id: "u-1", in: $0) } == expected)
    }

    @Test func aStaleVersionIsAConflictAndChangesNothing() throws {
        let db = try TestDatabase()
        try db.user("u-1", email: "ada@example.com")
        _ = try db.write {
            try UserStore.update(UpdateProfileRequest(id: "u-1", version: 1, displayName: "B"), nowMs: 2, in: $0)
        }
        let error = profileError {
            _ = try db.write {
                try UserStore.update(UpdateProfileRequest(id: "u-1", version: 1, displayName: "C"), nowMs: 3, in: $0)
            }
        }
        #expect(error?.kind == .conflict)
        #expect(error?.message.contains("version 2") == true)
        let stored = try db.queue.read { try UserStore.get(id: "u-1", in: $0) }
        #expect(stored.displayName == "B")
        #expect(stored.version == 2)
    }

    @Test func updateToAnEmailAnotherUserHasIsAConflict() throws {
        let db = try TestDatabase()
        try db.user("u-1", email: "ada@example.com")
        try db.user("u-2", email: "bob@example.com")
        let error = profileError {
            _ = try db.write {
                try UserStore.update(
                    UpdateProfileRequest(id: "u-2", version: 1, email: "Ada@example.com"), nowMs: 2, in: $0)
            }
        }
        #expect(error?.kind == .conflict)
        // A user may change the case of their own address.
        let own = try db.write {
            try UserStore.update(
                UpdateProfileRequest(id: "u-1", version: 1, email: "ADA@example.com"), nowMs: 2, in: $0)
        }
        #expect(own.email == "ADA@example.com")
    }

    @Test func updateChecksFieldsThenUserThenVersion() throws {
        let db = try TestDatabase()
        try db.user("u-1", email: "ada@example.com")
        // Invalid before not found, not found before a version is looked at.
        let invalid = profileError {
            _ = try db.write {
                try UserStore.update(UpdateProfileRequest(id: "nobody", version: 9, email: "x"), nowMs: 2, in: $0)
            }
        }
        #expect(invalid?.kind == .invalid)
        let missing = profileError {
            _ = try db.write {
                try UserStore.update(UpdateProfileRequest(id: "nobody", version: 9, displayName: "B"), nowMs: 2, in: $0)
            }
        }
        #expect(missing?.kind == .notFound)
    }

    @Test func anUpdateThatSetsNothingIsInvalidAndKeepsTheVersion() throws {
        let db = try TestDatabase()
        try db.user("u-1", email: "ada@example.com")
        let error = profileError {
            _ = try db.write { try UserStore.update(UpdateProfileRequest(id: "u-1", version: 1), nowMs: 2, in: $0) }
        }
        #expect(error?.kind == .invalid)
        #expect(try db.queue.read { try UserStore.get(id: "u-1", in: $0) }.version == 1)
    }

    @Test func fieldNamesListWhatAnUpdateSets() {
        #expect(UpdateProfileRequest(id: "u", version: 1).fieldNames == [])
        #expect(
            UpdateProfileRequest(id: "u", version: 1, displayName: "A", favouriteTags: []).fieldNames == [
                "displayName", "favouriteTags",
            ])
    }
}
