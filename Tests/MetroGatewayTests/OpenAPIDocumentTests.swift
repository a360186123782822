import Foundation
import Logging
import MetroGateway
import MetroKit
import Testing
import Yams

/// docs/openapi.yaml is the gateway's contract, and its handlers are written by
/// hand: this checks that the document lists exactly the routes the server
/// registers (`Gateway.routes`, taken from the router as built) and, for each,
/// exactly the statuses it can answer with.
@Suite struct OpenAPIDocumentTests {
    static let documentPath = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("docs/openapi.yaml").path

    /// method path → documented statuses.
    static func documented() throws -> [String: Set<Int>] {
        let text = try String(contentsOfFile: documentPath, encoding: .utf8)
        let root = try #require(try Yams.load(yaml: text) as? [String: Any])
        #expect(root["openapi"] as? String == "3.1.0")
        let paths = try #require(root["paths"] as? [String: Any])
        var result: [String: Set<Int>] = [:]
        for (path, item) in paths {
            let operations = try #require(item as? [String: Any])
            for (method, operation) in operations {
                let op = try #require(operation as? [String: Any])
                let responses = try #require(op["responses"] as? [String: Any])
                result["\(method.uppercased()) \(path)"] = Set(responses.keys.compactMap { Int($0) })
            }
        }
        return result
    }

    static func served() async throws -> [String: Set<Int>] {
        let registry = try RegistryClient(endpoints: ["tcp://127.0.0.1:1"])
        let publisher = try Publisher(.init(ingest: "tcp://127.0.0.1:1"))
        let gateway = try Gateway(
            configuration: .init(), registry: registry, publisher: publisher, logger: Logger(label: "test"),
            readiness: { [:] }, metricsText: { [] })
        defer { _ = gateway }
        let routes = Dictionary(gateway.routes.map { ("\($0.method) \($0.path)", $0.statuses) }) { a, _ in a }
        await registry.close()
        await publisher.close()
        return routes
    }

    @Test func everyServedRouteIsDocumentedWithItsStatuses() async throws {
        let doc = try Self.documented()
        let served = try await Self.served()
        #expect(served.count == 15)
        for (route, statuses) in served {
            let documented = try #require(doc[route], "\(route) is served but not in docs/openapi.yaml")
            #expect(documented == statuses, "\(route): served \(statuses.sorted()), documented \(documented.sorted())")
        }
        for route in doc.keys {
            #expect(served[route] != nil, "\(route) is documented but not served")
        }
    }

    /// The document's `security` matches the routes: the open ones (no 401) say
    /// `security: []`, every other inherits the global bearer requirement.
    @Test func openRoutesAreTheOnesWithoutSecurity() async throws {
        let text = try String(contentsOfFile: Self.documentPath, encoding: .utf8)
        let root = try #require(try Yams.load(yaml: text) as? [String: Any])
        #expect((root["security"] as? [[String: Any]])?.first?["bearer"] != nil)
        let paths = try #require(root["paths"] as? [String: Any])
        let served = try await Self.served()
        for (route, statuses) in served {
            let parts = route.split(separator: " ", maxSplits: 1)
            let op = try #require((paths[String(parts[1])] as? [String: Any])?[parts[0].lowercased()] as? [String: Any])
            let open = (op["security"] as? [Any])?.isEmpty == true
            #expect(open == !statuses.contains(401), "\(route): security \(String(describing: op["security"]))")
            #expect(statuses.contains(401) == statuses.contains(403), "\(route)")
        }
    }

    /// Every response is a problem or has a schema, and every `$ref` resolves.
    @Test func everyReferenceResolves() throws {
        let text = try String(contentsOfFile: Self.documentPath, encoding: .utf8)
        let root = try #require(try Yams.load(yaml: text) as? [String: Any])
        var refs: [String] = []
        func walk(_ node: Any) {
            if let d = node as? [String: Any] {
                if let r = d["$ref"] as? String { refs.append(r) }
                d.values.forEach(walk)
            } else if let a = node as? [Any] {
                a.forEach(walk)
            }
        }
        walk(root)
        #expect(!refs.isEmpty)
        for ref in Set(refs) {
            var node: Any = root
            for part in ref.dropFirst(2).split(separator: "/") {
                node = try #require((node as? [String: Any])?[String(part)], "\(ref) does not resolve")
            }
        }
    }
}
