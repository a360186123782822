import Foundation
import GRDB
import MetroKit
import MetroProtocol
import Testing

@testable import MetroRuntime

/// `StorageUnavailable` thrown by an rpc handler, through the runtime's own rpc
/// server (a real ROUTER on loopback, a real SQLite store): 205 `storage-failure`
/// with the handler's reason when nothing of the call committed, 107 when an
/// earlier write of the call did (the caller must not think it had no effect).
/// And for event handlers, the classification the delivery loop holds on.
@Suite struct StorageUnavailableTests {
    struct Ask: Codable, Sendable { var text = "x" }
    struct Done: Codable, Sendable {}

    static let refuse = RpcMethod<Ask, Done>("unit.refuse")
    static let writeThenRefuse = RpcMethod<Ask, Done>("unit.write-then-refuse")

    static func definition() -> ServiceDefinition {
        var unit = ServiceDefinition(name: "unit")
        unit.migrations { m in
            m.registerMigration("unit-1") { db in try db.execute(sql: "CREATE TABLE said (text TEXT NOT NULL)") }
        }
        unit.rpc(refuse) { _, _, _ in
            throw StorageUnavailable("the unit's blob disk is full")
        }
        unit.rpc(writeThenRefuse) { request, context, store in
            try await store.write(context) { tx in
                try tx.db.execute(sql: "INSERT INTO said VALUES (?)", arguments: [request.text])
            }
            throw StorageUnavailable("the unit's blob disk is full")
        }
        return unit
    }

    @Test func anRpcRefusedBeforeAnyWriteIs205WithTheReasonAndAfterAWriteIs107() async throws {
        // Not about time: a generous deadline (the suite's first seconds are crowded).
        let deadline: Duration = .seconds(60)
        let (refused, afterWrite) = try await RuntimeRpcFixture.run(Self.definition()) { _, client in
            (
                await Self.wireError { try await client.call(Self.refuse, Ask(), deadline: deadline) },
                await Self.wireError { try await client.call(Self.writeThenRefuse, Ask(), deadline: deadline) }
            )
        }
        #expect(refused?.code == .storageFailure)
        #expect(
            refused?.message == "unit.refuse: the unit's blob disk is full; nothing was written (retry later)",
            "\(String(describing: refused))")
        #expect(afterWrite?.code == .internalError, "\(String(describing: afterWrite))")
    }

    @Test func itIsTheKindOfErrorAnEventIsHeldFor() {
        #expect(StorageFault.isTransient(StorageUnavailable("full")))
        #expect(StorageFault.refusedWrite(StorageUnavailable("full")) == "full")
        #expect(!StorageFault.isTransient(EventRejection("bad")))
    }

    static func wireError(_ body: () async throws -> Done) async -> WireError? {
        do {
            _ = try await body()
            return nil
        } catch let error as MetroClientError {
            return error.wireError
        } catch {
            return nil
        }
    }
}
