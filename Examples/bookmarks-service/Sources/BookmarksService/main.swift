// The bookmarks service's process: one instance of `BookmarksService` on the
// Metro runtime, next to `metro up` (broker and registry on their default
// endpoints). Configuration from the environment; SIGTERM/SIGINT stop it
// gracefully (work in flight finishes, the outbox is flushed, it deregisters).
import Bookmarks
import Foundation
import Logging
import MetroRuntime
import ServiceLifecycle
import UnixSignals

let environment = ProcessInfo.processInfo.environment
var configuration = ServiceRuntime.Configuration(
    brokerIngest: environment["METRO_INGEST"] ?? "tcp://127.0.0.1:7701",
    brokerConsume: environment["METRO_CONSUME"] ?? "tcp://127.0.0.1:7704",
    registry: [environment["METRO_REGISTRY"] ?? "tcp://127.0.0.1:7400"],
    dataFolder: environment["METRO_DATA"] ?? "data",
    instance: environment["METRO_INSTANCE"] ?? "bookmarks-\(getpid())")
configuration.rpcBind = environment["METRO_RPC_BIND"] ?? "tcp://127.0.0.1:*"

LoggingSystem.bootstrap(StreamLogHandler.standardError)
let logger = Logger(label: "bookmarks")
let runtime = ServiceRuntime(BookmarksService.definition(), configuration: configuration, logger: logger) { ready in
    // Unbuffered: under a supervisor stdout is a pipe, where print() would hold the line.
    let line = "bookmarks ready instance=\(ready.instance) rpc=\(ready.rpcEndpoint ?? "-")\n"
    FileHandle.standardOutput.write(Data(line.utf8))
}
let group = ServiceGroup(
    configuration: .init(
        services: [.init(service: runtime)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
try await group.run()
