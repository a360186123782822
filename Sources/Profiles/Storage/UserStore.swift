import Foundation
public import GRDB
import MetroProtocol

/// Users in SQLite: create, read, partial update with optimistic concurrency.
/// Every function runs on the `Database` it is given (inside the caller's
/// transaction) and throws `ProfileError` for what the caller did wrong, or
/// GRDB's `DatabaseError` for what the disk did.
public enum UserStore {
    /// Inserts a new user with `id` (the service makes a UUID) at `nowMs`.
    public static func create(_ request: CreateProfileRequest, id: String, nowMs: Int64, in db: Database) throws -> User
    {
        let user = User(
            id: try ProfileRules.id(id, field: "id"),
            displayName: try ProfileRules.displayName(request.displayName),
            email: try ProfileRules.email(request.email),
            favouriteTags: try ProfileRules.tags(request.favouriteTags ?? []),
            createdAtMs: nowMs, updatedAtMs: nowMs, version: 1)
        try ensureEmailFree(user.email, except: nil, in: db)
        try mapUniqueViolation {
            try db.execute(
                sql: """
                    INSERT INTO users (id, display_name, email, email_key, favourite_tags, created_at, updated_at, version)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    user.id, user.displayName, user.email, ProfileRules.emailKey(user.email),
                    encodeTags(user.favouriteTags),
                    user.createdAtMs, user.updatedAtMs, user.version,
                ])
        }
        return user
    }

    /// The user with `id`, or nil. The statement is prepared once per connection
    /// (GRDB's statement cache): `Row.fetchOne(db, sql:)` prepared it, and ran
    /// GRDB's authorizer over it, on every `profile.get` (docs/performance.md,
    /// "`profile.get` over rpc + SQLite").
    public static func find(id: String, in db: Database) throws -> User? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM users WHERE id = ?"), arguments: [id]).map(
            user(from:))
    }

    /// The user with `id`, or `ProfileError.notFound`.
    public static func get(id: String, in db: Database) throws -> User {
        let id = try ProfileRules.id(id, field: "id")
        guard let user = try find(id: id, in: db) else { throw ProfileError.notFound(user: id) }
        return user
    }

    /// Applies the fields `request` sets, if `request.version` is the stored
    /// version; the result has version + 1 and `updatedAtMs = nowMs`. Checks in
    /// this order: the fields' rules (invalid), the user (not found), the
    /// version (conflict), the email's owner (conflict). An update that sets no
    /// field is invalid.
    public static func update(_ request: UpdateProfileRequest, nowMs: Int64, in db: Database) throws -> User {
        let id = try ProfileRules.id(request.id, field: "id")
        // An update that sets nothing would bump the version and publish an
        // event that says nothing changed: refuse it as a malformed request.
        guard !request.fieldNames.isEmpty else {
            throw ProfileError.invalid("update", "sets no field (displayName, email, favouriteTags)")
        }
        let displayName = try request.displayName.map { name throws(ProfileError) in try ProfileRules.displayName(name)
        }
        let email = try request.email.map { email throws(ProfileError) in try ProfileRules.email(email) }
        let tags = try request.favouriteTags.map { tags throws(ProfileError) in try ProfileRules.tags(tags) }
        guard var user = try find(id: id, in: db) else { throw ProfileError.notFound(user: id) }
        guard request.version == user.version else {
            throw ProfileError(.conflict, "stale version \(request.version): user \(id) is at version \(user.version)")
        }
        if let email { try ensureEmailFree(email, except: id, in: db) }
        user.displayName = displayName ?? user.displayName
        user.email = email ?? user.email
        user.favouriteTags = tags ?? user.favouriteTags
        user.updatedAtMs = nowMs
        user.version += 1
        try mapUniqueViolation {
            try db.execute(
                sql: """
                    UPDATE users SET display_name = ?, email = ?, email_key = ?, favourite_tags = ?, updated_at = ?,
                        version = ?
                    WHERE id = ? AND version = ?
                    """,
                arguments: [
                    user.displayName, user.email, ProfileRules.emailKey(user.email), encodeTags(user.favouriteTags),
                    user.updatedAtMs, user.version, id, request.version,
                ])
        }
        // The read above and this write are one transaction, so the row cannot
        // have moved; a zero count would be a bug in the caller's transaction use.
        precondition(db.changesCount == 1, "UserStore.update: the row changed inside its own transaction")
        return user
    }

    // MARK: - Helpers

    private static func ensureEmailFree(_ email: String, except id: String?, in db: Database) throws {
        let owner = try String.fetchOne(
            db, sql: "SELECT id FROM users WHERE email_key = ?", arguments: [ProfileRules.emailKey(email)])
        if let owner, owner != id { throw emailTaken }
    }

    private static let emailTaken = ProfileError(.conflict, "email: another user has this address")

    /// The UNIQUE index is the last word on emails (and ids): a violation the
    /// check above missed is still a conflict, not an internal error.
    private static func mapUniqueViolation(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let error as DatabaseError where error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE {
            throw error.message?.contains("email_key") == true ? emailTaken : ProfileError(.conflict, "id is taken")
        } catch let error as DatabaseError where error.extendedResultCode == .SQLITE_CONSTRAINT_PRIMARYKEY {
            throw ProfileError(.conflict, "id is taken")
        }
    }

    private static func encodeTags(_ tags: [String]) -> String {
        String(decoding: WireJSON.encode(tags), as: UTF8.self)
    }

    private static func user(from row: Row) throws -> User {
        let tagsJSON: String = row["favourite_tags"]
        return User(
            id: row["id"], displayName: row["display_name"], email: row["email"],
            favouriteTags: try JSONDecoder().decode([String].self, from: Data(tagsJSON.utf8)),
            createdAtMs: row["created_at"], updatedAtMs: row["updated_at"], version: row["version"])
    }
}
