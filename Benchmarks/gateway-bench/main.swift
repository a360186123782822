import Foundation
import Hummingbird
import MetroKit

/// The baselines of the gateway benchmark (issue 17, "Benchmark"), both bare
/// Hummingbird handlers of `GET /v1/users/{id}`:
///
/// - `direct`: answers the JSON the gateway passes through from the profiles
///   service, from memory, without any rpc (the baseline);
/// - `rpc`: makes the same rpc call as the gateway (`profile.get` through
///   MetroKit's `RpcClient` on the registry) and answers its bytes, with none of
///   the gateway's own layers (middleware, limit, metrics, problem mapping, ETag):
///   the fairer baseline, which isolates what the gateway itself costs.
///
/// `run.sh` runs wrk against both and against `metro gateway` in the same session.
///
/// Usage: metro-gateway-bench-direct <port> <user-json-file>
///        metro-gateway-bench-direct <port> --rpc <registry-endpoint> <broker-events-endpoint>
///        metro-gateway-bench-direct --costs <iterations>   (`PerRequestCosts`)
let arguments = CommandLine.arguments
func usage() -> Never {
    FileHandle.standardError.write(
        Data(
            """
            usage: metro-gateway-bench-direct <port> <user-json-file>
                   metro-gateway-bench-direct <port> --rpc <registry-endpoint> <broker-events-endpoint>

            """.utf8))
    exit(64)
}
if arguments.count == 3, arguments[1] == "--costs", let n = Int(arguments[2]) {
    PerRequestCosts.run(iterations: n)
    exit(0)
}
guard arguments.count >= 3, let port = Int(arguments[1]) else { usage() }

let router = Router()
if arguments[2] == "--rpc" {
    guard arguments.count == 5 else { usage() }
    let registry = try RegistryClient(configuration: .init(endpoints: [arguments[3]], eventsEndpoint: arguments[4]))
    let rpc = try RpcClient(service: "profiles", registry: registry)
    router.get("/v1/users/{id}") { _, context -> Response in
        let id = try context.parameters.require("id")
        // The ids are UUIDs: nothing in them needs escaping.
        let answer = try await rpc.call(method: "profile.get", body: Array("{\"id\":\"\(id)\"}".utf8), idempotent: true)
        return Response(
            status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: answer))
        )
    }
} else {
    guard arguments.count == 3, let json = FileManager.default.contents(atPath: arguments[2]) else { usage() }
    let body = ByteBuffer(bytes: Array(json))
    router.get("/v1/users/{id}") { _, _ -> Response in
        Response(
            status: .ok, headers: [.contentType: "application/json", .eTag: "\"1\""],
            body: .init(byteBuffer: body))
    }
}
let app = Application(
    router: router, configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "direct"),
    onServerRunning: { channel in
        let line = "ready {\"http\":\"127.0.0.1:\(channel.localAddress?.port ?? port)\"}\n"
        FileHandle.standardOutput.write(Data(line.utf8))
    })
try await app.runService()
