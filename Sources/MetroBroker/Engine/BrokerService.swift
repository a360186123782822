import Foundation
import Logging
import ServiceLifecycle

/// The broker as a swift-service-lifecycle `Service`: `run()` starts the engine's
/// dedicated loop thread and returns when the loop has ended. Graceful shutdown
/// (SIGINT/SIGTERM through the `ServiceGroup`) calls `stop()`, so the loop flushes
/// the journal, sends the ACKs that became durable, and closes its sockets with
/// the configured linger.
public final class BrokerService: Service, @unchecked Sendable {
    public let engine: BrokerEngine

    public init(engine: BrokerEngine) { self.engine = engine }

    public func run() async throws {
        let engine = self.engine
        await withGracefulShutdownHandler {
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                let thread = Thread {
                    engine.run()
                    done.resume()
                }
                thread.name = "metro-broker-loop"
                thread.stackSize = 1 << 20
                thread.start()
            }
        } onGracefulShutdown: {
            engine.stop()
        }
    }
}
