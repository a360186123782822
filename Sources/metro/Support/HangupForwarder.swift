import Foundation
import Logging
import ServiceLifecycle
import UnixSignals

/// `metro up --secure`: a SIGHUP to `metro up` goes on to every ready child, so
/// that one signal applies an edited allow-list everywhere (the broker, the
/// registry and each worker reload `<data>/keys/allow-list.yaml`) and the gateway
/// reloads its secret (docs/operations.md, "CURVE"). Each child logs what it
/// reloaded, or why not. Without `--secure` no child traps SIGHUP, so nothing is
/// forwarded (and `metro up` keeps SIGHUP's default action), except under
/// systemd: there SIGHUP is `systemctl reload`, which must not kill the system,
/// so it is trapped and answered with a log line saying there is nothing to
/// reload (`forwards` false). Under systemd each SIGHUP is told as `RELOADING=1`
/// and then `READY=1` once forwarded.
///
/// SIGHUP is trapped when this is made, before any child starts.
struct HangupForwarder: Service {
    let supervisor: Supervisor
    /// Whether SIGHUP goes on to the children (`--secure`).
    let forwards: Bool
    let notifier: SystemdNotifier?
    let logger: Logger
    let hangups: UnixSignalsSequence

    init(supervisor: Supervisor, forwards: Bool = true, notifier: SystemdNotifier? = nil, logger: Logger) async {
        self.supervisor = supervisor
        self.forwards = forwards
        self.notifier = notifier
        self.logger = logger
        hangups = await UnixSignalsSequence(trapping: .sighup)
    }

    func run() async throws {
        for await _ in hangups.cancelOnGracefulShutdown() {
            notifier?.send(
                ["RELOADING=1", "MONOTONIC_USEC=\(SystemdNotifier.monotonicMicroseconds)", "STATUS=reloading"],
                logger: logger)
            if forwards {
                let children = supervisor.signalReadyChildren(SIGHUP)
                logger.notice(
                    "SIGHUP forwarded: each child reloads its allow-list (the gateway its credentials)",
                    metadata: ["children": "\(children.joined(separator: ","))"])
            } else {
                logger.notice("SIGHUP: nothing to reload, the system runs without --secure (no allow-list, no secret)")
            }
            notifier?.send(["READY=1", "STATUS=\(supervisor.board.current.summary)"], logger: logger)
        }
    }
}
