import Foundation
import GRDB
import MetroKit
import Testing

@testable import MetroRuntime

/// `RpcPlacement` through the runtime's own rpc server (a real ROUTER on
/// loopback, a real SQLite store): an inline handler and its reads run on the
/// thread that owns the socket, a write from it still commits and comes back
/// there, and a `.task` handler and its reads run elsewhere, as before.
@Suite struct RpcPlacementTests {
    struct Ask: Codable, Sendable { var text = "x" }
    /// The thread names (Linux keeps 15 bytes) the handler and its read ran on.
    struct Seen: Codable, Sendable, Equatable {
        var handler: String
        var read: String
        var afterWrite: String?
        var rows: Int
    }

    static let inlineRead = RpcMethod<Ask, Seen>("unit.inline-read", idempotent: true)
    static let inlineWrite = RpcMethod<Ask, Seen>("unit.inline-write")
    static let taskRead = RpcMethod<Ask, Seen>("unit.task-read", idempotent: true)
    /// `RpcServer`'s I/O thread ("metro-rpc-server", cut to 15 bytes).
    static let rpcThread = "metro-rpc-serve"

    static func threadName() -> String {
        let comm = (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? ""
        return comm.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func count(_ db: Database) throws -> Int { try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM said") ?? -1 }

    static func definition() -> ServiceDefinition {
        var unit = ServiceDefinition(name: "unit")
        unit.migrations { m in
            m.registerMigration("unit-1") { db in try db.execute(sql: "CREATE TABLE said (text TEXT NOT NULL)") }
        }
        unit.rpc(inlineRead, placement: .inline) { _, _, store in
            let handler = threadName()
            let (read, rows) = try await store.read { db in (threadName(), try Self.count(db)) }
            return Seen(handler: handler, read: read, rows: rows)
        }
        unit.rpc(inlineWrite, placement: .inline) { request, context, store in
            let handler = threadName()
            try await store.write(context) { tx in
                try tx.db.execute(sql: "INSERT INTO said VALUES (?)", arguments: [request.text])
            }
            let afterWrite = threadName()
            let (read, rows) = try await store.read { db in (threadName(), try Self.count(db)) }
            return Seen(handler: handler, read: read, afterWrite: afterWrite, rows: rows)
        }
        unit.rpc(taskRead) { _, _, store in
            let handler = threadName()
            let (read, rows) = try await store.read { db in (threadName(), try Self.count(db)) }
            return Seen(handler: handler, read: read, rows: rows)
        }
        return unit
    }

    @Test func inlineHandlersAndTheirReadsRunOnTheRpcThreadTaskHandlersDoNot() async throws {
        // What runs where, not how fast: a generous deadline. In a full run the
        // `.task` handler waits for a thread of the cooperative pool, and during
        // the suite's first ~20 s (two cores, ~180 `metro` processes started)
        // it once waited past the default 5 s (docs/performance.md, "The test
        // suite starves itself").
        let deadline: Duration = .seconds(60)
        let seen: [Seen] = try await RuntimeRpcFixture.run(Self.definition()) { server, client in
            #expect(server.options.ioThreadMethods == ["unit.inline-read", "unit.inline-write"])
            return [
                try await client.call(Self.inlineRead, Ask(), deadline: deadline),
                try await client.call(Self.inlineWrite, Ask(text: "a"), deadline: deadline),
                try await client.call(Self.taskRead, Ask(), deadline: deadline),
            ]
        }
        #expect(seen[0] == Seen(handler: Self.rpcThread, read: Self.rpcThread, rows: 0))
        #expect(seen[1] == Seen(handler: Self.rpcThread, read: Self.rpcThread, afterWrite: Self.rpcThread, rows: 1))
        #expect(seen[2].rows == 1)
        #expect(seen[2].handler != Self.rpcThread && seen[2].read != Self.rpcThread)
        // GRDB's reader runs the task handler's read on a queue of its own, not the handler's thread.
        #expect(seen[2].read != seen[2].handler)
    }
}
