package import Foundation
import Synchronization

/// The processes a benchmark runs against: one `metro broker` and one `metro
/// registry` on ephemeral loopback ports, a data folder under the temp
/// directory, and the workers it starts; `stop()` stops them all (workers
/// first) and removes the folder.
package final class BenchStack: Sendable {
    package let folder: String
    package let broker: ChildProcess
    package let registry: ChildProcess
    private let workers = Mutex<[ChildProcess]>([])

    package init() throws {
        let bench = URL(fileURLWithPath: CommandLine.arguments[0]).lastPathComponent
        folder = NSTemporaryDirectory() + "\(bench)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let broker = try ChildProcess.metro(
            "broker",
            [
                "broker", "--ingest", "tcp://127.0.0.1:*", "--publish", "tcp://127.0.0.1:*", "--events",
                "tcp://127.0.0.1:*", "--consume", "tcp://127.0.0.1:*", "--metrics", "", "--data-dir",
                folder + "/broker",
            ])
        do {
            registry = try ChildProcess.metro("registry", ["registry", "--endpoint", "tcp://127.0.0.1:*"])
        } catch {
            broker.stop()
            throw error
        }
        self.broker = broker
    }

    package var ingest: String { broker.ready["ingest"]! }
    package var consume: String { broker.ready["consume"]! }

    /// Starts `metro worker <service>` on `data` (a folder under the bench's);
    /// stopped by `stop()` at the latest.
    package func worker(_ service: String, instance: String, data: String, extra: [String] = []) throws
        -> ChildProcess
    {
        let w = try ChildProcess.metro(
            instance,
            [
                "worker", service, "--broker-ingest", ingest, "--broker-consume", consume, "--registry",
                registry.ready["endpoint"]!, "--data", folder + "/" + data, "--instance", instance,
            ] + extra)
        adopt(w)
        return w
    }

    /// Another process of the bench's, stopped with the workers.
    package func adopt(_ process: ChildProcess) { workers.withLock { $0.append(process) } }

    /// Stops one worker now (SIGTERM: it drains and deregisters).
    package func stop(_ w: ChildProcess) {
        w.stop()
        workers.withLock { $0.removeAll { $0 === w } }
    }

    /// Stops every process, workers first, and removes the data folder.
    package func stop() {
        for w in workers.withLock({ $0 }) { w.stop() }
        workers.withLock { $0 = [] }
        registry.stop()
        broker.stop()
        try? FileManager.default.removeItem(atPath: folder)
    }
}

/// The 1-, 5- and 15-minute load averages, for the header of a bench's table.
package func loadAverage() -> String {
    ((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? "?").split(separator: " ").prefix(3)
        .joined(separator: " ")
}
