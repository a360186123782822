// metro-rpc-bench: `echo` (the default, EchoBench.swift) measures RpcClient →
// RpcServer against a bare DEALER→ROUTER echo; `services` (ServiceBench.swift)
// measures the service runtime with real `metro worker` processes.
import ArgumentParser
import Foundation
import MetroKit

@main
struct MetroRpcBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metro-rpc-bench", abstract: "rpc and service runtime benchmarks (issue 14 §5).",
        subcommands: [RpcBench.self, ServiceBench.self, ServeEcho.self], defaultSubcommand: RpcBench.self)
}

/// `metro-rpc-bench serve-echo`: an `RpcServer` that answers every call with its
/// body, in a process of its own (the `services` bench's baseline: rpc across a
/// process boundary with no runtime and no SQLite). Prints `ready {"rpc": ...}`
/// and serves until killed.
struct ServeEcho: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve-echo", abstract: "An RpcServer echo in its own process (the services bench's baseline).",
        shouldDisplay: false)

    func run() async throws {
        let server = try RpcServer(.init(), handler: { .reply($0.body) })
        let endpoint = try await server.start()
        FileHandle.standardOutput.write(Data("ready {\"rpc\":\"\(endpoint)\"}\n".utf8))
        while true { try await Task.sleep(for: .seconds(3600)) }
    }
}
