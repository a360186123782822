import Foundation
import Logging
import ServiceLifecycle
import UnixSignals

/// `metro up --secure`: a SIGHUP to `metro up` goes on to every ready child, so
/// that one signal applies an edited allow-list everywhere (the broker, the
/// registry and each worker reload `<data>/keys/allow-list.yaml`) and the gateway
/// reloads its secret (docs/operations.md, "CURVE"). Each child logs what it
/// reloaded, or why not. Without `--secure` no child traps SIGHUP, so nothing is
/// forwarded (and `metro up` keeps SIGHUP's default action).
///
/// SIGHUP is trapped when this is made, before any child starts.
struct HangupForwarder: Service {
    let supervisor: Supervisor
    let logger: Logger
    let hangups: UnixSignalsSequence

    init(supervisor: Supervisor, logger: Logger) async {
        self.supervisor = supervisor
        self.logger = logger
        hangups = await UnixSignalsSequence(trapping: .sighup)
    }

    func run() async throws {
        for await _ in hangups.cancelOnGracefulShutdown() {
            let children = supervisor.signalReadyChildren(SIGHUP)
            logger.notice(
                "SIGHUP forwarded: each child reloads its allow-list (the gateway its credentials)",
                metadata: ["children": "\(children.joined(separator: ","))"])
        }
    }
}
