import Foundation
package import MetroProtocol

#if canImport(Glibc)
    import Glibc
#endif

/// A real `metro broker` on loopback with its own data folder, on `TestPorts`
/// endpoints (below the ephemeral range, so that no other test's bind or connect
/// can take them while the broker is down). `restart()` starts a new process on
/// the same endpoints and folder (after a crash or a stop). The process is killed
/// when the harness is released.
///
/// Threading: one test (one task) at a time drives a harness; `restart` replaces
/// `process` and `endpoints`, which nothing else may read meanwhile.
package final class BrokerHarness: @unchecked Sendable {
    package let dataDir: TemporaryDirectory
    package private(set) var process: MetroProcess
    package private(set) var endpoints: [String: String]
    package let extraArguments: [String]
    package let shell: String?
    /// Extra environment of every process started (e.g. `FaultInjection.environment`).
    package let environment: [String: String]

    package var ingest: String { endpoints["ingest"]! }
    package var publish: String { endpoints["publish"]! }
    package var events: String { endpoints["events"]! }
    package var consume: String { endpoints["consume"]! }

    /// Starts a broker and suspends until its ready line.
    /// `config`: YAML written to a file and passed with `--config` (for limits).
    /// `shell`: run by /bin/sh before metro (`MetroProcess`), e.g. `ulimit -n 64`.
    /// `folder`: the broker's data folder inside the harness's temporary one
    /// (`broker` gives the layout of a system's data folder, as `metro backup` reads it).
    package init(
        config: String? = nil, arguments: [String] = [], shell: String? = nil, environment: [String: String] = [:],
        folder: String = "journal"
    ) async throws {
        self.folder = folder
        self.shell = shell
        self.environment = environment
        dataDir = try TemporaryDirectory()
        var extra = arguments
        if let config {
            let path = dataDir.url.appendingPathComponent("broker.yaml").path
            try config.write(toFile: path, atomically: true, encoding: .utf8)
            extra += ["--config", path]
        }
        extraArguments = extra
        let journal = dataDir.url.appendingPathComponent(folder).path
        let e = try TestPorts.freeEndpoints(4)
        let process = try MetroProcess(
            [
                "broker", "--ingest", e[0], "--publish", e[1], "--events", e[2], "--consume", e[3],
                "--metrics", "127.0.0.1:0",
                "--data-dir", journal,
            ] + extra, environment: environment, shell: shell)
        self.process = process
        endpoints = try await process.waitUntilReady()
    }

    package let folder: String
    package var journalPath: String { dataDir.url.appendingPathComponent(folder).path }

    /// Starts the broker again on the same endpoints and data folder, with
    /// `environment` instead of the first start's when given; suspends until ready.
    package func restart(environment: [String: String]? = nil) async throws {
        let process = try MetroProcess(
            [
                "broker", "--ingest", ingest, "--publish", publish, "--events", events, "--consume", consume,
                "--metrics", "127.0.0.1:0", "--data-dir", journalPath,
            ] + extraArguments, environment: environment ?? self.environment, shell: shell)
        self.process = process
        endpoints = try await process.waitUntilReady()
    }

    /// kill -9, and wait until it is gone.
    package func kill9() async {
        process.kill(SIGKILL)
        await process.waitForExit()
    }

    /// SIGTERM and wait (up to 20 s): a graceful stop that flushes the journal.
    /// Returns the exit status, nil if the broker did not exit in time.
    @discardableResult
    package func stop() async -> Int32? {
        process.kill(SIGTERM)
        return await process.waitForExit(timeout: .seconds(20))
    }

    /// The broker's STATS (protocol.md), asked over a fresh DEALER.
    package func stats() async throws -> BrokerStats {
        let frames = try await request(on: consume, ConsumeCodec.requestFrames(.stats))
        return try JSONDecoder().decode(BrokerStats.self, from: Data(frames[2]))
    }

    /// The broker's open descriptors now (entries of /proc/<pid>/fd).
    package func openDescriptors() throws -> Int {
        try FileManager.default.contentsOfDirectory(atPath: "/proc/\(process.pid)/fd").count
    }

    /// The broker's open-files limit (soft, hard) from /proc/<pid>/limits.
    package func openFilesLimit() throws -> (soft: UInt64, hard: UInt64) {
        let limits = try String(contentsOfFile: "/proc/\(process.pid)/limits", encoding: .utf8)
        guard let line = limits.split(separator: "\n").first(where: { $0.hasPrefix("Max open files") }) else {
            throw WaitError.unexpected("no open files limit in /proc/\(process.pid)/limits")
        }
        let numbers = line.split(separator: " ").compactMap { UInt64($0) }
        return (numbers[0], numbers[1])
    }

    /// The broker's resident memory, in bytes (from /proc).
    package func residentBytes() throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(process.pid)/status", encoding: .utf8)
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }!
        return Int(line.split(separator: " ")[1])! * 1024
    }
}
