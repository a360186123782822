import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A real `metro registry` on an ephemeral loopback port.
package final class RegistryUnderTest: Sendable {
    package let process: MetroProcess
    package let endpoint: String
    /// The whole ready line (`endpoint`, and `metrics` when asked for).
    package let ready: [String: String]

    /// Starts `metro registry` and suspends until its ready line; `endpoint` defaults
    /// to an ephemeral port (pass the old endpoint to restart a registry where its
    /// clients expect it).
    package init(endpoint: String = "tcp://127.0.0.1:*", broker: String? = nil, extra: [String] = []) async throws {
        var args = ["registry", "--endpoint", endpoint, "--log-level", "warning"]
        if let broker { args += ["--broker", broker] }
        let process = try MetroProcess(args + extra)
        self.process = process
        ready = try await process.waitUntilReady()
        guard let ep = ready["endpoint"] else { throw WaitError.unexpected("ready line without endpoint") }
        self.endpoint = ep
    }

    /// kill -9, and wait until it is gone.
    package func crash() async {
        process.kill(SIGKILL)
        await process.waitForExit()
    }
}
