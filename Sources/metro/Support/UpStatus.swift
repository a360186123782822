import Foundation
import Metrics
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// What `metro up` says of its children in `<data>/up.status.json`, for
/// `metro top`'s PROCESSES table: each child's pid, whether it is ready, how
/// often it was started, and how it last ended (with its last stderr line).
///
/// Why a file: the supervisor is the only one that sees a child die and come
/// back. Before it, a worker that crashed every few seconds after being ready
/// once was restarted for as long as `metro up` ran, and only its log said so;
/// the registry showed a young lease, nothing else. The file is replaced
/// atomically (write, rename) at each start, ready line and exit, so a reader
/// never sees half of it; `metro up` removes it when it stops cleanly, and a
/// reader tells a stale one by its `pid` no longer running.
struct UpStatus: Codable, Sendable, Equatable {
    static let fileName = "up.status.json"

    /// `metro up`'s own pid.
    var pid: Int32
    var startedAt: Date
    var updatedAt: Date
    var children: [Child]

    struct Child: Codable, Sendable, Equatable {
        var name: String
        /// The current process; nil between an exit and the restart.
        var pid: Int32?
        var ready = false
        /// Processes started for this child since `metro up` began (restarts + 1).
        var starts = 0
        /// When the current (or last) process started.
        var startedAt: Date?
        /// How the last process ended: "exit status 1", "killed by signal 9"; nil if none ended yet.
        var lastExit: String?
        var lastExitAt: Date?
        /// Its last stderr line before that exit, if it wrote one.
        var lastLine: String?

        var restarts: Int { max(0, starts - 1) }
    }

    static func path(dataFolder: String) -> String { dataFolder + "/" + fileName }

    /// The file in `dataFolder`, or nil when there is none or it does not decode.
    static func read(dataFolder: String) -> UpStatus? {
        guard let data = FileManager.default.contents(atPath: path(dataFolder: dataFolder)) else { return nil }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .millisecondsSince1970
        return try? decoder.decode(UpStatus.self, from: data)
    }

    /// Whether the `metro up` that wrote it still runs: its pid is alive and is
    /// a `metro up` (after a reboot the pid may be another program's).
    var supervisorRuns: Bool {
        guard kill(pid, 0) == 0 || errno == EPERM else { return false }
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return true }
        let words = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        return words.contains("up") && words.contains { $0.hasSuffix("metro") }
    }

    /// One line for the service manager (`systemctl status`): how many children
    /// are ready, the others with how their last run ended, the restarts so far.
    var summary: String {
        let waiting = children.filter { !$0.ready }
        var text = "\(children.count - waiting.count) of \(children.count) processes ready"
        if !waiting.isEmpty {
            text +=
                "; not ready: "
                + waiting.map { child in child.name + (child.lastExit.map { " (\($0))" } ?? "") }.joined(
                    separator: ", ")
        }
        let restarts = children.map(\.restarts).reduce(0, +)
        if restarts > 0 { text += "; \(restarts) restart\(restarts == 1 ? "" : "s") since start" }
        return text
    }

    func encoded() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .millisecondsSince1970
        return (try? encoder.encode(self)) ?? Data()
    }
}

/// Keeps the children's status for `Supervisor` and writes it to the data
/// folder at each change (never on the children's output path: a change is a
/// start, a ready line or an exit, seconds apart). The same goes to swift-metrics
/// (`metro up --metrics`): `metro_up_child_restarts_total{child}` and
/// `metro_up_child_ready{child}` (1 or 0), for the MetroChildRestarting alert.
final class UpStatusBoard: Sendable {
    let dataFolder: String?
    private let status: Mutex<UpStatus>
    private let restartCounters: [String: Counter]
    private let readyGauges: [String: Gauge]

    /// `dataFolder` nil: kept in memory only (tests of the supervisor alone).
    init(children: [String], dataFolder: String?) {
        self.dataFolder = dataFolder
        let now = Date()
        status = Mutex(
            UpStatus(
                pid: getpid(), startedAt: now, updatedAt: now, children: children.map { UpStatus.Child(name: $0) }))
        restartCounters = Dictionary(
            uniqueKeysWithValues: children.map {
                ($0, Counter(label: "metro_up_child_restarts_total", dimensions: [("child", $0)]))
            })
        readyGauges = Dictionary(
            uniqueKeysWithValues: children.map {
                ($0, Gauge(label: "metro_up_child_ready", dimensions: [("child", $0)]))
            })
        for gauge in readyGauges.values { gauge.record(0) }
    }

    var current: UpStatus { status.withLock { $0 } }

    func started(_ name: String, pid: Int32) {
        if current.children.first(where: { $0.name == name })?.starts ?? 0 > 0 { restartCounters[name]?.increment() }
        readyGauges[name]?.record(0)
        update(name) {
            $0.pid = pid
            $0.ready = false
            $0.starts += 1
            $0.startedAt = Date()
        }
    }

    func ready(_ name: String) {
        readyGauges[name]?.record(1)
        update(name) { $0.ready = true }
    }

    func exited(_ name: String, ending: String, lastLine: String?) {
        readyGauges[name]?.record(0)
        update(name) {
            $0.pid = nil
            $0.ready = false
            $0.lastExit = ending
            $0.lastExitAt = Date()
            $0.lastLine = lastLine
        }
    }

    /// Removes the file (a clean stop: nothing is running any more).
    func remove() {
        guard let dataFolder else { return }
        try? FileManager.default.removeItem(atPath: UpStatus.path(dataFolder: dataFolder))
    }

    private func update(_ name: String, _ change: (inout UpStatus.Child) -> Void) {
        status.withLock { status in
            guard let i = status.children.firstIndex(where: { $0.name == name }) else { return }
            change(&status.children[i])
            status.updatedAt = Date()
        }
        flush()
    }

    private let writing = Mutex(())

    /// Writes the newest status (taken under the write lock, so an older one never
    /// lands after a newer one) to a temporary file and renames it into place.
    private func flush() {
        guard let dataFolder else { return }
        writing.withLock { _ in
            let path = UpStatus.path(dataFolder: dataFolder)
            let temporary = path + ".tmp"
            guard FileManager.default.createFile(atPath: temporary, contents: current.encoded()) else { return }
            _ = rename(temporary, path)
        }
    }
}
