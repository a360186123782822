import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A real `metro registry` on a loopback `TestPorts` endpoint (below the ephemeral
/// range, so that a registry started again on it after a crash finds it free).
package final class RegistryUnderTest: Sendable {
    package let process: MetroProcess
    package let endpoint: String
    /// The whole ready line (`endpoint`, and `metrics` when asked for).
    package let ready: [String: String]

    /// Starts `metro registry` and suspends until its ready line; `endpoint` defaults
    /// to a fresh `TestPorts` endpoint (pass the old endpoint to restart a registry
    /// where its clients expect it).
    package init(endpoint: String? = nil, broker: String? = nil, extra: [String] = []) async throws {
        let endpoint = try endpoint ?? TestPorts.freeEndpoints(1)[0]
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
