import Foundation
import Hummingbird

/// The baseline of the gateway benchmark (issue 17, "Benchmark"): a Hummingbird
/// handler that answers `GET /v1/users/{id}` with the same JSON the gateway
/// passes through from the profiles service, without any rpc. `run.sh` runs wrk
/// against it and against `metro gateway` in the same session.
///
/// Usage: metro-gateway-bench-direct <port> <user-json-file>
let arguments = CommandLine.arguments
guard arguments.count == 3, let port = Int(arguments[1]),
    let json = FileManager.default.contents(atPath: arguments[2])
else {
    FileHandle.standardError.write(Data("usage: metro-gateway-bench-direct <port> <user-json-file>\n".utf8))
    exit(64)
}
let body = ByteBuffer(bytes: Array(json))
let router = Router()
router.get("/v1/users/{id}") { _, _ -> Response in
    Response(
        status: .ok, headers: [.contentType: "application/json", .eTag: "\"1\""],
        body: .init(byteBuffer: body))
}
let app = Application(
    router: router, configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "direct"),
    onServerRunning: { channel in
        let line = "ready {\"http\":\"127.0.0.1:\(channel.localAddress?.port ?? port)\"}\n"
        FileHandle.standardOutput.write(Data(line.utf8))
    })
try await app.runService()
