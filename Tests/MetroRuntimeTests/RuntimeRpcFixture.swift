import Foundation
import MetroKit

@testable import MetroRuntime

/// A service definition's rpc server alone, as the runtime builds it (a real ROUTER
/// on loopback, a real SQLite store in a temporary folder; no broker), with a
/// client on it. `run` closes all three and removes the folder, whatever the body does.
enum RuntimeRpcFixture {
    static func run<T>(
        _ definition: ServiceDefinition, _ body: (RpcServer, RpcClient) async throws -> T
    ) async throws -> T {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("metro-rpc-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let runtime = ServiceRuntime(
            definition,
            configuration: .init(
                brokerIngest: "tcp://127.0.0.1:1", brokerConsume: "tcp://127.0.0.1:1", registry: [],
                dataFolder: folder.path, instance: "\(definition.name)-1"))
        let store = try await ServiceStore.open(
            folder: folder.path, service: definition.name, busyTimeout: .seconds(1),
            faults: FaultPoints(environment: [:]), migrations: definition.registerMigrations)
        guard let server = try runtime.rpcServer(store: store, context: nil) else {
            await store.close()
            throw FixtureError.noRpcMethods
        }
        do {
            let client = try RpcClient(endpoints: [try await server.start()])
            do {
                let result = try await body(server, client)
                await client.close()
                await server.close()
                await store.close()
                return result
            } catch {
                await client.close()
                throw error
            }
        } catch {
            await server.close()
            await store.close()
            throw error
        }
    }

    enum FixtureError: Error { case noRpcMethods }
}
