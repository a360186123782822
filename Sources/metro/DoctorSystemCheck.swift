import Foundation

/// `metro doctor`'s `system` row: what a `metro up` on the checked data folder
/// says of its children (`<data>/up.status.json`, `UpStatus`). Nothing when no
/// `metro up` ran there; a warning when children were restarted (which, how
/// often, how the last one ended), or when the file is left by a `metro up`
/// that no longer runs (killed with -9: its children stopped with it).
enum DoctorSystemCheck {
    static func check(dataFolder: String, now: Date = Date()) -> DoctorCheck? {
        guard let status = UpStatus.read(dataFolder: dataFolder) else { return nil }
        guard status.supervisorRuns else {
            return DoctorCheck(
                name: "system", ok: true,
                detail:
                    "\(UpStatus.path(dataFolder: dataFolder)) is left by a metro up (pid \(status.pid)) that no longer runs (killed?); its children stopped with it",
                warning: true)
        }
        let ready = status.children.filter(\.ready).count
        var detail =
            "metro up (pid \(status.pid)) runs on this data folder: \(status.children.count) children, \(ready) ready"
        let restarted = status.children.filter { $0.restarts > 0 }
        if !restarted.isEmpty {
            detail +=
                "; restarted: "
                + restarted.map { child in
                    var words = "\(child.name) ×\(child.restarts)"
                    let last = TopProcesses.lastExit(child, now: now)
                    if !last.isEmpty { words += " (last: \(last))" }
                    return words
                }.joined(separator: ", ") + " (metro top shows them live)"
        }
        return DoctorCheck(
            name: "system", ok: true, detail: detail, warning: !restarted.isEmpty || ready < status.children.count)
    }
}
