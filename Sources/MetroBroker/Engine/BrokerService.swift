import Foundation
import Logging
import ServiceLifecycle

/// The broker as a swift-service-lifecycle `Service`: `run()` starts the engine's
/// dedicated loop thread and returns when the loop has ended. Graceful shutdown
/// (SIGINT/SIGTERM through the `ServiceGroup`) or cancellation calls `stop()`, so the loop flushes
/// the journal, sends the ACKs that became durable, and closes its sockets with
/// the configured linger.
public final class BrokerService: Service, @unchecked Sendable {
    public let engine: BrokerEngine

    public init(engine: BrokerEngine) { self.engine = engine }

    public func run() async throws {
        let engine = self.engine
        // Cancellation too: when another service of the group fails (the metrics
        // endpoint cannot bind, say), the group cancels, and the loop must end.
        await withTaskCancellationOrGracefulShutdownHandler {
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                let thread = Thread {
                    engine.run()
                    done.resume()
                }
                thread.name = "metro-broker-loop"
                thread.stackSize = 1 << 20
                thread.start()
            }
        } onCancelOrGracefulShutdown: {
            engine.stop()
        }
    }
}
