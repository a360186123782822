import Foundation
import Logging
package import ServiceLifecycle
import ZeroMQ

/// The broker as a swift-service-lifecycle `Service`: `run()` starts the engine's
/// dedicated loop thread and returns when the loop has ended. Graceful shutdown
/// (SIGINT/SIGTERM through the `ServiceGroup`) or cancellation calls `stop()`, so the loop flushes
/// the journal, sends the ACKs that became durable, and closes its sockets with
/// the configured linger. A loop that ended on a storage failure (protocol.md
/// §4.2.7) makes `run()` throw that `JournalError`: the service group then stops,
/// and `metro broker` exits with status 74.
package final class BrokerService: Service, @unchecked Sendable {
    package let engine: BrokerEngine

    package init(engine: BrokerEngine) { self.engine = engine }

    package func run() async throws {
        let engine = self.engine
        // The ZAP handler (CURVE on) answers handshakes while the loop runs, and is
        // stopped after it, so that the context can end once the loop closed its sockets.
        let zapThread = engine.zap.map { zap in
            DedicatedThread(name: "metro-zap") {
                if let error = zap.run() {
                    engine.logger.critical("ZAP handler ended: no client can connect: \(error)")
                }
            }
        }
        zapThread?.start()
        // Cancellation too: when another service of the group fails (the metrics
        // endpoint cannot bind, say), the group cancels, and the loop must end.
        await withTaskCancellationOrGracefulShutdownHandler {
            // "metro-broker" fits Linux's 15-byte thread names (`top -H`).
            await DedicatedThread.run(name: "metro-broker", stackSize: 1 << 20) { engine.run() }
        } onCancelOrGracefulShutdown: {
            engine.stop()
        }
        engine.zap?.stop()
        await zapThread?.join()
        // Written by the loop thread before it ended; the join above orders the read.
        let failure = engine.storageFailure
        if let failure { throw failure }
    }
}
