import Foundation
import Logging
import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The service manager's notification protocol (`sd_notify(3)`), spoken without
/// libsystemd: systemd starts a `Type=notify` unit with `NOTIFY_SOCKET` naming a
/// unix datagram socket (a path, or `@name` for an abstract one), and the service
/// sends it newline-separated `KEY=VALUE` assignments. Metro sends:
/// - `READY=1` with `STATUS=ready …` right after a server's ready line
///   (`ReadyLine`), so `systemctl start` returns only when the system answers and
///   units ordered `After=` it start then;
/// - `STATUS=…` as things change (`metro up`: starting, a child restarting, a
///   system that cannot start and why), which `systemctl status` shows;
/// - `RELOADING=1` then `READY=1` around a SIGHUP (`systemctl reload`);
/// - `STOPPING=1` when a graceful stop begins;
/// - `WATCHDOG=1` every half `WATCHDOG_USEC` (`WatchdogSec=`) while the process's
///   tasks run, so a hung one is restarted by systemd (`SystemdLifecycle`).
///
/// Without `NOTIFY_SOCKET` (a terminal, `metro soak`, tests) `shared` is nil and
/// nothing is sent. A send that fails is logged once and otherwise ignored: the
/// service runs on, and systemd's start timeout says the rest.
///
/// Hand-written: no package of the Swift server ecosystem speaks this protocol,
/// and it is one `sendto` (docs/operations.md, "Running under systemd").
final class SystemdNotifier: Sendable {
    /// The variables systemd gives the main process only: `metro up` removes them
    /// from its children's environment, whose own READY=1 would mean the wrong thing.
    static let environmentKeys = ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"]

    /// This process's notifier, when a service manager asked for notifications.
    static let shared = SystemdNotifier(environment: ProcessInfo.processInfo.environment)

    let socketPath: String
    /// How often to send `WATCHDOG=1` (half of `WATCHDOG_USEC`), when systemd
    /// watches this process.
    let watchdogInterval: Duration?
    private let descriptor: Int32
    private let failureLogged = Mutex(false)

    init?(environment: [String: String]) {
        guard let path = environment["NOTIFY_SOCKET"], !path.isEmpty,
            path.hasPrefix("/") || path.hasPrefix("@")
        else { return nil }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        descriptor = fd
        socketPath = path
        // WATCHDOG_PID, when set, names the process meant (not a child that inherited it).
        let forUs = environment["WATCHDOG_PID"].map { Int32($0) == getpid() } ?? true
        if forUs, let usec = environment["WATCHDOG_USEC"].flatMap(UInt64.init), usec > 0 {
            watchdogInterval = .microseconds(Int64(usec / 2))
        } else {
            watchdogInterval = nil
        }
    }

    deinit { close(descriptor) }

    /// `environment` without the variables meant for this process alone.
    static func childEnvironment(_ environment: [String: String]) -> [String: String] {
        environment.filter { !environmentKeys.contains($0.key) }
    }

    /// Sends `assignments` (`READY=1`, `STATUS=…`) as one datagram; false if it
    /// could not be sent. A newline inside a STATUS would end it: it becomes a space.
    @discardableResult
    func send(_ assignments: [String], logger: Logger? = nil) -> Bool {
        let text = assignments.map { $0.replacingOccurrences(of: "\n", with: " ") }.joined(separator: "\n")
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var pathBytes = Array(socketPath.utf8)
        if pathBytes.first == UInt8(ascii: "@") { pathBytes[0] = 0 }  // an abstract socket
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard pathBytes.count < capacity else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: pathBytes)
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + pathBytes.count + (pathBytes.first == 0 ? 0 : 1))
        let sent = Array(text.utf8).withUnsafeBytes { bytes in
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(descriptor, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL), $0, length)
                }
            }
        }
        if sent < 0 {
            let reason = String(cString: strerror(errno))
            let first = failureLogged.withLock { logged in
                defer { logged = true }
                return !logged
            }
            if first {
                logger?.warning(
                    "cannot notify the service manager",
                    metadata: ["NOTIFY_SOCKET": "\(socketPath)", "error": "\(reason)"])
            }
            return false
        }
        return true
    }

    /// `CLOCK_MONOTONIC` in µs, which `RELOADING=1` carries (`MONOTONIC_USEC`):
    /// Dispatch's uptime is that clock on Linux. (Not `clock_gettime` with a
    /// `timespec`: under MemberImportVisibility its members fail in full builds,
    /// docs/operations.md "Glibc's `stat` under MemberImportVisibility".)
    static var monotonicMicroseconds: UInt64 { DispatchTime.now().uptimeNanoseconds / 1000 }
}

/// A long-running command's part in systemd's lifecycle: `WATCHDOG=1` every half
/// `WATCHDOG_USEC` while this process's tasks run (a pool that stops running
/// them stops the pings, and systemd restarts the unit), and `STOPPING=1` once a
/// graceful stop begins. Does nothing but wait for shutdown without a notifier.
struct SystemdLifecycle: Service {
    let notifier: SystemdNotifier?
    let logger: Logger

    func run() async throws {
        guard let notifier else {
            try? await gracefulShutdown()
            return
        }
        if let interval = notifier.watchdogInterval {
            // Cancelled by the graceful stop, so STOPPING=1 follows it at once.
            try? await cancelWhenGracefulShutdown {
                while true {
                    notifier.send(["WATCHDOG=1"], logger: logger)
                    try await Task.sleep(for: interval)
                }
            }
        } else {
            try? await gracefulShutdown()
        }
        notifier.send(["STOPPING=1", "STATUS=stopping"], logger: logger)
    }
}
