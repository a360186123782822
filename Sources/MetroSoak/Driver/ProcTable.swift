import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The `metro` processes of one system, read from /proc: the children of its
/// `metro up` (by ppid), each named as `metro up` names it ("broker",
/// "registry", "gateway", or a worker's `--instance`, "video-1"). Read again
/// whenever a pid is needed, because a restart changes it.
public enum ProcTable {
    /// A running process's arguments (empty once it is gone).
    public static func arguments(_ pid: Int32) -> [String] {
        guard let raw = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"), !raw.isEmpty else { return [] }
        return raw.split(separator: 0, omittingEmptySubsequences: false).dropLast().map {
            String(decoding: $0, as: UTF8.self)
        }
    }

    /// The parent pid from /proc/<pid>/stat (nil once it is gone).
    public static func parent(_ pid: Int32) -> Int32? { stat(pid).flatMap { Int32($0[1]) } }

    /// The fields of /proc/<pid>/stat after the command name (field 3 on): the
    /// name is in parentheses and may hold spaces, so split after the last ')'.
    static func stat(_ pid: Int32) -> [Substring]? {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/stat") else { return nil }
        let text = String(decoding: data, as: UTF8.self)
        guard let close = text.lastIndex(of: ")") else { return nil }
        return text[text.index(after: close)...].split(separator: " ")
    }

    static func allPids() -> [Int32] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { Int32($0) }
    }

    /// Whether `arguments` run a `metro` binary (`metro`, or a copy named
    /// `metro-…`, as an operator may keep two versions) with subcommand `command`.
    static func isMetro(_ arguments: [String], _ command: String) -> Bool {
        arguments.count >= 2 && (arguments[0] as NSString).lastPathComponent.hasPrefix("metro")
            && arguments[1] == command
    }

    /// The name `metro up` gives the child with these arguments, nil for none
    /// of its children. `metro up` starts its children from its own binary,
    /// whatever that file is called, so only the subcommand is looked at.
    static func childName(_ arguments: [String]) -> String? {
        guard arguments.count >= 2 else { return nil }
        switch arguments[1] {
        case "broker", "registry", "gateway": return arguments[1]
        case "worker":
            guard let i = arguments.firstIndex(of: "--instance"), i + 1 < arguments.count else { return nil }
            return arguments[i + 1]
        default: return nil
        }
    }

    /// The children of `upPid` by name.
    public static func children(of upPid: Int32) -> [String: Int32] {
        var found: [String: Int32] = [:]
        for pid in allPids() where parent(pid) == upPid {
            if let name = childName(arguments(pid)) { found[name] = pid }
        }
        return found
    }

    /// The `metro up` whose registry child binds `registryEndpoint` (attach mode):
    /// nil when no such process runs on this host (or /proc hides it).
    public static func upProcess(registryEndpoint: String) -> Int32? {
        for pid in allPids() {
            let args = arguments(pid)
            guard isMetro(args, "registry"), let i = args.firstIndex(of: "--endpoint"), i + 1 < args.count,
                args[i + 1] == registryEndpoint, let up = parent(pid), isMetro(arguments(up), "up")
            else { continue }
            return up
        }
        return nil
    }

    private static let clockTicks = Double(sysconf(Int32(_SC_CLK_TCK)))

    /// RSS (VmRSS) and CPU seconds (utime + stime) of `pid`, nil once it is gone.
    public static func usage(_ pid: Int32) -> (rssBytes: UInt64, cpuSeconds: Double)? {
        guard let fields = stat(pid), fields.count > 12, let utime = Double(fields[11]),
            let stime = Double(fields[12]),
            let status = FileManager.default.contents(atPath: "/proc/\(pid)/status")
        else { return nil }
        let text = String(decoding: status, as: UTF8.self)
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
            let kib = UInt64(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
        else { return nil }
        return (kib * 1024, (utime + stime) / clockTicks)
    }
}
