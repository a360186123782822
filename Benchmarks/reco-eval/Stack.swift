import BenchSupport
import Foundation
import Synchronization

/// The broker and registry every worker of the bench uses, and the data folder.
final class Stack: Sendable {
    let folder: String
    let broker: ChildProcess
    let registry: ChildProcess
    private let workers = Mutex<[ChildProcess]>([])

    init() throws {
        folder = NSTemporaryDirectory() + "metro-reco-eval-\(UUID().uuidString)"
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

    var ingest: String { broker.ready["ingest"]! }
    var consume: String { broker.ready["consume"]! }

    /// Starts `metro worker <service>` on `data` (a folder under the bench's); stopped by `stop()` at the latest.
    func worker(_ service: String, instance: String, data: String) throws -> ChildProcess {
        let w = try ChildProcess.metro(
            instance,
            [
                "worker", service, "--broker-ingest", ingest, "--broker-consume", consume, "--registry",
                registry.ready["endpoint"]!, "--data", folder + "/" + data, "--instance", instance,
            ])
        workers.withLock { $0.append(w) }
        return w
    }

    /// Stops one worker now (SIGTERM: it drains and deregisters).
    func stop(_ w: ChildProcess) {
        w.stop()
        workers.withLock { $0.removeAll { $0 === w } }
    }

    /// Stops every process, workers first, and removes the data folder.
    func stop() {
        for w in workers.withLock({ $0 }) { w.stop() }
        workers.withLock { $0 = [] }
        registry.stop()
        broker.stop()
        try? FileManager.default.removeItem(atPath: folder)
    }
}
