package import MetroKit

/// A MetroKit client (or a test's wrapper of one) that ends with `close() async`.
package protocol AsyncClosable: Sendable {
    func close() async
}

extension Publisher: AsyncClosable {}
extension Subscriber: AsyncClosable {}
extension Consumer: AsyncClosable {}
extension RegistryClient: AsyncClosable {}
extension RpcClient: AsyncClosable {}
extension LiveCollector: AsyncClosable {}
extension FakeBroker: AsyncClosable {}

/// The async `defer` of a test: runs `body`, then closes `clients` (the last one
/// first), also when `body` throws. A `defer` block cannot await `close()`.
package func closing<R>(_ clients: any AsyncClosable..., body: () async throws -> R) async throws -> R {
    let result: R
    do {
        result = try await body()
    } catch {
        for c in clients.reversed() { await c.close() }
        throw error
    }
    for c in clients.reversed() { await c.close() }
    return result
}
