public import Foundation
import MetroRuntime

#if canImport(Glibc)
    import Glibc
#endif

/// Starts the system under test as ONE child, `metro up`, on the ports it is
/// given, and stops it. `metro up`'s supervisor is what restarts a killed
/// component, exactly as for an operator. Its output goes to files in the
/// report folder (`up.stdout`, `up.log`), not to memory: a 10-minute run logs
/// megabytes. Its ready line (stdout) gives the endpoints and the instances.
public final class UpLauncher: Sendable {
    public struct Options: Sendable {
        public var metroBinary: String
        public var dataDir: String
        /// Where `up.stdout` and `up.log` go.
        public var logFolder: String
        public var ingest: String
        public var publish: String
        public var events: String
        public var consume: String
        public var registry: String
        /// host:port, nil for no gateway.
        public var gateway: String?
        /// Passed to `metro up` as they are (`--video 3`, `--synthetic-work-ms 20`, ...).
        public var upArguments: [String]
        /// Preloaded into `metro up` and so into every child (disk-full faults).
        public var environment: [String: String]

        public init(
            metroBinary: String, dataDir: String, logFolder: String, ingest: String, publish: String, events: String,
            consume: String, registry: String, gateway: String?, upArguments: [String], environment: [String: String]
        ) {
            self.metroBinary = metroBinary
            self.dataDir = dataDir
            self.logFolder = logFolder
            self.ingest = ingest
            self.publish = publish
            self.events = events
            self.consume = consume
            self.registry = registry
            self.gateway = gateway
            self.upArguments = upArguments
            self.environment = environment
        }
    }

    public let options: Options
    private let process: WatchedChild
    public var pid: Int32 { process.pid }
    public var isRunning: Bool { process.isRunning }
    public var logPath: String { options.logFolder + "/up.log" }
    private var stdoutPath: String { options.logFolder + "/up.stdout" }

    /// Writes the broker's configuration (its endpoints) and starts `metro up`.
    public init(_ options: Options) throws {
        self.options = options
        try FileManager.default.createDirectory(atPath: options.dataDir, withIntermediateDirectories: true)
        let config = options.dataDir + "/soak-broker.yaml"
        // Metrics on port 0: a soak never fights a running system for 7709.
        try """
        endpoints:
          ingest: \(options.ingest)
          publish: \(options.publish)
          events: \(options.events)
          consume: \(options.consume)
          metrics: "127.0.0.1:0"
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let arguments =
            [
                "up", "--data-dir", options.dataDir, "--config", config, "--registry", options.registry, "--gateway",
                options.gateway ?? "",
            ] + options.upArguments
        // `metro up` watches this pid (metro's SupervisorWatch, METRO_SUPERVISOR_PID) and
        // stops the system when the soak is gone, even after a kill -9 of the soak.
        let environment = ProcessInfo.processInfo.environment.merging(options.environment) { $1 }
            .merging(["METRO_SUPERVISOR_PID": "\(getpid())"]) { $1 }
        do {
            process = WatchedChild(
                try ChildSpawn.spawn(
                    options.metroBinary, arguments, environment: environment,
                    stdout: .file(options.logFolder + "/up.stdout"), stderr: .file(options.logFolder + "/up.log")))
        } catch {
            throw SoakSetupError("cannot start metro up: \(error)")
        }
    }

    /// Waits for `metro up`'s one ready line (every child ready, every instance
    /// registered) and returns what it says. Throws if `up` exits first or
    /// `timeout` passes, with the end of its log.
    public func waitUntilReady(timeout: Duration) async throws -> SoakTopology {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let line = readyLine() { return topology(line) }
            guard process.isRunning else {
                throw SoakSetupError(
                    "metro up exited with status \(process.status?.code ?? -1) before it was ready; "
                        + "the end of \(logPath):\n\(logTail())")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw SoakSetupError("metro up was not ready within \(timeout); the end of \(logPath):\n\(logTail())")
    }

    private func readyLine() -> [String: String]? {
        guard let data = FileManager.default.contents(atPath: stdoutPath) else { return nil }
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") where line.hasPrefix("ready ") {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.dropFirst(6).utf8)) as? [String: Any]
            else { continue }
            return object.mapValues { "\($0)" }
        }
        return nil
    }

    private func topology(_ line: [String: String]) -> SoakTopology {
        var instances: [SoakInstance] = []
        for service in ["profiles", "video", "recommendations"] {
            for id in (line[service] ?? "").split(separator: ",") {
                instances.append(SoakInstance(service: service, instance: String(id)))
            }
        }
        return SoakTopology(
            ingest: line["ingest"] ?? options.ingest, publish: line["publish"] ?? options.publish,
            events: line["events"] ?? options.events, consume: line["consume"] ?? options.consume,
            registry: line["registry"] ?? options.registry, gateway: line["gateway"] ?? options.gateway,
            instances: instances, upPid: pid)
    }

    /// The last 2 KB of `up.log`, for an error message.
    public func logTail() -> String {
        guard let data = FileManager.default.contents(atPath: logPath) else { return "(no log)" }
        return String(decoding: data.suffix(2048), as: UTF8.self)
    }

    /// SIGTERM (`up` stops its children in dependency order), then SIGKILL of `up`
    /// and whatever child is left if it is not gone within `timeout`.
    public func stop(timeout: Duration) async {
        guard process.isRunning else { return }
        process.signal(SIGTERM)
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        guard process.isRunning else { return }
        let children = ProcTable.children(of: pid)
        process.signal(SIGKILL)
        for (_, child) in children {
            kill(child, SIGCONT)
            kill(child, SIGKILL)
        }
        _ = await process.exit()
    }
}

/// A soak that cannot start (or attach): exit status 2, with this message.
public struct SoakSetupError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
