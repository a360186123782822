import Foundation
import VideoProcessing

/// The doctor's checks of the machine under Metro rather than of Metro's own
/// setup: how the hypervisor treats this VM's vCPUs, which sets latency here.
extension DoctorCheck {
    /// Whether an idle vCPU polls before it halts. On a KVM or Firecracker guest
    /// whose cpuidle driver is `haltpoll` with `guest_halt_poll_ns` 0, every thread
    /// wake-up on an idle vCPU is a VM exit and an IPI, and one event crosses about
    /// six of them: on this project's VM the p50 of a hop through `zmq_proxy` or
    /// the broker halves with polling on (docs/performance.md, "vCPU halt polling").
    static func vcpuIdle() -> DoctorCheck {
        func read(_ path: String) -> String? {
            (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        return vcpuIdle(
            driver: read("/sys/devices/system/cpu/cpuidle/current_driver"),
            haltPollNs: read("/sys/module/haltpoll/parameters/guest_halt_poll_ns").flatMap { Int($0) })
    }

    static func vcpuIdle(driver: String?, haltPollNs: Int?) -> DoctorCheck {
        guard driver == "haltpoll", let haltPollNs else {
            return DoctorCheck(
                name: "vcpu idle", ok: true,
                detail: "cpuidle driver \(driver ?? "unknown"): no guest halt polling to tune")
        }
        if haltPollNs > 0 {
            return DoctorCheck(
                name: "vcpu idle", ok: true, detail: "idle vCPUs poll \(haltPollNs / 1000) µs before halting")
        }
        return DoctorCheck(
            name: "vcpu idle", ok: true,
            detail: "idle vCPUs halt at once (haltpoll guest_halt_poll_ns=0): each wake-up costs a VM exit, "
                + "which doubles latency; as root: echo 200000 > /sys/module/haltpoll/parameters/guest_halt_poll_ns",
            warning: true)
    }

    /// The share of the CPU time this machine's threads wanted since boot that a
    /// hypervisor gave to other guests instead (`steal` in /proc/stat). A thread
    /// whose vCPU is taken away stops for the host's time slice, milliseconds: on
    /// this project's VM the p99 latency of the broker and of `zmq_proxy` alike
    /// followed the steal of each run (docs/performance.md, "CPU steal"). Since
    /// boot is an average: the steal of a busy minute can be ten times more.
    static func cpuSteal() -> DoctorCheck {
        let line = (try? String(contentsOfFile: "/proc/stat", encoding: .utf8))?.split(separator: "\n").first
        return cpuSteal(procStatCPULine: line.map(String.init))
    }

    /// Warns from this share up.
    static let stealWarningPercent = 1.0

    static func cpuSteal(procStatCPULine line: String?) -> DoctorCheck {
        // cpu user nice system idle iowait irq softirq steal ...
        let fields = (line ?? "").split(separator: " ").dropFirst().compactMap { Double($0) }
        guard line?.hasPrefix("cpu ") == true, fields.count >= 8 else {
            return DoctorCheck(name: "cpu steal", ok: true, detail: "unknown (no steal time in /proc/stat)")
        }
        let steal = fields[7]
        let wanted = fields[0] + fields[1] + fields[2] + fields[5] + fields[6] + steal
        let percent = wanted > 0 ? 100 * steal / wanted : 0
        let share = String(format: "%.1f%%", percent)
        if percent < stealWarningPercent {
            return DoctorCheck(
                name: "cpu steal", ok: true, detail: "\(share) of the CPU time wanted since boot went to other guests")
        }
        return DoctorCheck(
            name: "cpu steal", ok: true,
            detail: "\(share) of the CPU time wanted since boot went to other guests (hypervisor steal): "
                + "latency tails follow it; a dedicated or less loaded host removes it",
            warning: true)
    }

    /// The open-files limit the broker will run with (`OpenFilesLimit`): it raises
    /// its soft limit to the hard one at start, so the hard limit is its budget
    /// for client connections (one descriptor each), replays while they send and
    /// consumer groups (one each). Warns below `openFilesWarning`.
    static func openFiles(_ limit: OpenFilesLimit = .current()) -> DoctorCheck {
        let budget = limit.raised
        let detail =
            "soft \(limit.soft), hard \(limit.hard): the broker raises its soft limit to \(budget) at start; "
            + "each client connection costs one descriptor, and so does each sending replay and each group"
        guard budget >= openFilesWarning else {
            return DoctorCheck(
                name: "open files", ok: true,
                detail: detail + "; raise the hard limit (ulimit -Hn, LimitNOFILE= in systemd) to serve many clients",
                warning: true)
        }
        return DoctorCheck(name: "open files", ok: true, detail: detail)
    }

    static let openFilesWarning: UInt64 = 4096

    /// ffmpeg and ffprobe, which `metro worker video` needs (it refuses to start
    /// without them): a warning, since a host that runs no video worker does not.
    static func mediaTools() async -> DoctorCheck {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("metro-doctor-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let step = FFmpegStep(blobs: BlobStore(root: scratch.path), workRoot: scratch.path)
        do {
            try await step.checkTools()
            return DoctorCheck(name: "ffmpeg", ok: true, detail: "ffmpeg and ffprobe run (video workers need them)")
        } catch {
            return DoctorCheck(
                name: "ffmpeg", ok: true, detail: "video workers will refuse to start: \(error)", warning: true)
        }
    }

    /// Below this much free space (or inodes) under the data folder, a warning: the
    /// broker refuses publishes on a full disk and the services answer 205
    /// storage-failure (docs/operations.md, "When the disk fails").
    static let lowDiskBytes: UInt64 = 1 << 30
    static let lowDiskInodes: UInt64 = 10_000

    /// The free space and inodes of the file system holding `path` (which the data
    /// folder check has made), as this process may use them.
    static func diskSpace(_ path: String) -> DoctorCheck {
        var fs = statvfs()
        guard statvfs(path, &fs) == 0 else {
            return DoctorCheck(
                name: "disk space", ok: true, detail: "unknown: statvfs \(path): \(String(cString: strerror(errno)))",
                warning: true)
        }
        let free = UInt64(fs.f_bavail) * UInt64(fs.f_frsize)
        let size = UInt64(fs.f_blocks) * UInt64(fs.f_frsize)
        let inodes = UInt64(fs.f_favail)
        func gib(_ bytes: UInt64) -> String { String(format: "%.1f GiB", Double(bytes) / Double(1 << 30)) }
        var detail = "\(path): \(gib(free)) free of \(gib(size))"
        if fs.f_files > 0 { detail += ", \(inodes) inodes free" }
        let low = free < lowDiskBytes || (fs.f_files > 0 && inodes < lowDiskInodes)
        if low {
            detail +=
                "; under 1 GiB or 10,000 inodes, a full disk comes soon: the broker then refuses publishes and "
                + "the services answer 205 storage-failure (docs/operations.md, \"When the disk fails\")"
        }
        return DoctorCheck(name: "disk space", ok: true, detail: detail, warning: low)
    }
}
