import HTTPTypes
import Hummingbird
import MetroKit
import MetroProtocol

/// Operations: the registry's view, liveness, readiness and Prometheus metrics.
extension Gateway {
    func addOperationRoutes(_ table: RouteTable) {
        table.add(.get, "/v1/services", RouteTable.common.union([200, 503, 504]), access: .operatorOnly) { _, context in
            let instances: [InstanceStatus]
            do {
                instances = try await self.registry.list()
            } catch let error as MetroClientError {
                throw Problem.upstream(error, service: "registry")
            }
            return try JSONBodies.response(.ok, ServiceList(instances: instances))
        }
        table.add(.get, "/healthz", RouteTable.common.union([200]), access: .open) { _, _ in
            try JSONBodies.response(.ok, ["status": "ok"])
        }
        table.add(.get, "/readyz", RouteTable.common.union([200, 503]), access: .open) { _, _ in
            let checks = await self.readiness()
            let failed = checks.compactMap { name, why in why.map { "\(name): \($0)" } }.sorted()
            guard failed.isEmpty else {
                throw Problem(
                    .serviceUnavailable, "not-ready", title: "Not ready", detail: failed.joined(separator: "; "),
                    retryAfterSeconds: 1)
            }
            return try JSONBodies.response(.ok, ["status": "ready"])
        }
        table.add(.get, "/metrics", RouteTable.common.union([200]), access: .operatorOnly) { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: self.metricsText())))
        }
    }
}

/// The answer of `GET /v1/services`: every registered instance, as LIST gives them.
struct ServiceList: Codable, Sendable {
    var instances: [InstanceStatus]
}
