import Foundation

/// `metro top`'s PROCESSES table: what `metro up` says of its children in
/// `<data>/up.status.json` (`UpStatus`): each child's pid, state, time up,
/// restarts and last exit, so a child that keeps crashing after it was ready
/// once (restarted for good, by design) is seen at a glance, not only in the log.
struct TopProcesses: Sendable, Equatable {
    /// The data folder read.
    let folder: String
    /// Its status, or nil when the folder holds none.
    let status: UpStatus?
    /// Whether the `metro up` that wrote it still runs.
    let supervisorRuns: Bool

    static func read(_ folder: String) -> TopProcesses {
        let status = UpStatus.read(dataFolder: folder)
        return TopProcesses(folder: folder, status: status, supervisorRuns: status?.supervisorRuns ?? false)
    }

    /// A child's state in words: ready, starting, restarting (between an exit and its restart).
    static func state(_ child: UpStatus.Child) -> String {
        if child.pid != nil { return child.ready ? "ready" : "starting" }
        return child.lastExit == nil ? "not started" : "restarting"
    }

    /// "exit status 1 12s ago: Error: ..." or "" when it never ended.
    static func lastExit(_ child: UpStatus.Child, now: Date) -> String {
        guard let ending = child.lastExit else { return "" }
        var text = ending
        if let at = child.lastExitAt {
            text += " " + TopScreen.age(UInt64(max(0, now.timeIntervalSince(at)) * 1000)) + " ago"
        }
        if let line = child.lastLine { text += ": " + line }
        return text
    }

    func json(now: Date) -> [String: Any] {
        var object: [String: Any] = ["dataFolder": folder]
        guard let status else {
            object["ok"] = false
            object["error"] = "no \(UpStatus.fileName) in \(folder)"
            return object
        }
        object["ok"] = supervisorRuns
        object["supervisorPid"] = status.pid
        if !supervisorRuns { object["error"] = "metro up (pid \(status.pid)) is not running" }
        object["children"] = status.children.map { child in
            [
                "name": child.name, "pid": child.pid.map { $0 as Any } ?? NSNull(), "state": Self.state(child),
                "ready": child.ready, "starts": child.starts, "restarts": child.restarts,
                "upSeconds": child.pid != nil
                    ? child.startedAt.map { max(0, now.timeIntervalSince($0)) as Any } ?? NSNull() : NSNull(),
                "lastExit": child.lastExit ?? NSNull(), "lastLine": child.lastLine ?? NSNull(),
            ] as [String: Any]
        }
        return object
    }
}

extension TopScreen {
    /// The PROCESSES lines; `explicit`: the folder was given (say when it holds no status).
    func processes(_ p: TopProcesses, explicit: Bool, now: Date) -> [String] {
        guard let status = p.status else {
            return explicit
                ? [
                    paint("PROCESSES", "1") + "  "
                        + paint(
                            "no \(UpStatus.fileName) in \(p.folder): is metro up running with --data-dir \(p.folder)?",
                            "33"),
                    "",
                ] : []
        }
        var head = paint("PROCESSES", "1") + "  metro up pid \(status.pid), data \(p.folder)"
        if !p.supervisorRuns {
            head +=
                "  "
                + paint(
                    "metro up is not running: its last status, of \(TailPrinter.isoTime(UInt64(status.updatedAt.timeIntervalSince1970 * 1e9)))",
                    "1;31")
        }
        let rows = status.children.map { child -> [String] in
            let state = TopProcesses.state(child)
            let up =
                child.pid != nil
                ? child.startedAt.map { Self.age(UInt64(max(0, now.timeIntervalSince($0)) * 1000)) } : nil
            return [
                child.name, child.pid.map(String.init) ?? "-",
                state == "ready" ? state : paint(state, "33"), up ?? "-",
                child.restarts > 0 ? paint(String(child.restarts), "33") : "0", TopProcesses.lastExit(child, now: now),
            ]
        }
        return [head, ""]
            + table(
                header: ["NAME", "PID", "STATE", "UP", "RESTARTS", "LAST EXIT"],
                right: [false, true, false, true, true, false], rows: rows, empty: "no children") + [""]
    }
}
