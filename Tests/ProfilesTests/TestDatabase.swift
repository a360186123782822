import Foundation
import GRDB
import Profiles

/// A migrated SQLite file in a fresh temporary folder, removed on deinit: the
/// store functions are tested against real SQLite, as the runtime runs them.
final class TestDatabase {
    let folder: URL
    let queue: DatabaseQueue

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("profiles-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var configuration = Configuration()
        configuration.foreignKeysEnabled = true
        queue = try DatabaseQueue(
            path: folder.appendingPathComponent("profiles.sqlite").path, configuration: configuration)
        var migrator = DatabaseMigrator()
        ProfilesSchema.register(in: &migrator)
        try migrator.migrate(queue)
    }

    deinit { try? FileManager.default.removeItem(at: folder) }

    @discardableResult
    func write<T>(_ body: (Database) throws -> T) throws -> T { try queue.write(body) }

    /// Creates a user with a fixed time and returns it.
    @discardableResult
    func user(_ id: String, email: String, name: String = "Ada", nowMs: Int64 = 1_000) throws -> User {
        try write { db in
            try UserStore.create(CreateProfileRequest(displayName: name, email: email), id: id, nowMs: nowMs, in: db)
        }
    }
}

/// The `ProfileError` a throwing body threw, or nil if it threw nothing or something else.
func profileError(_ body: () throws -> Void) -> ProfileError? {
    do {
        try body()
        return nil
    } catch let error as ProfileError {
        return error
    } catch {
        return nil
    }
}
