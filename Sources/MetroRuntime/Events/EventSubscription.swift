import Logging
import MetroKit
import MetroProtocol
import Synchronization

/// One event handler at work: a `Consumer` in the handler's group, and a loop that
/// runs at most `concurrency` deliveries at once (the consumer's credit window is
/// the same number, so the broker never hands this instance more than it runs and
/// nothing waits here while its ACK timeout runs).
///
/// `stop()` ends the intake: the consumer grants no more credit (`Consumer.drain`),
/// so the broker sends nothing new, and no delivery is started after it; one
/// already received and not started is never ACKed, so the broker hands it to
/// another member once this one LEAVEs. `run()` returns when the handlers in flight have
/// finished (and queued their ACK/NAK); then the runtime closes the consumer.
///
/// Threading: `run()` in one task; handlers run as child tasks of it; `stop()` from any.
final class EventSubscription: Sendable {
    let registration: EventHandlerRegistration
    let consumer: Consumer
    private let processor: DeliveryProcessor
    private let intake: AsyncStream<Consumer.Delivery?>
    private let intakeContinuation: AsyncStream<Consumer.Delivery?>.Continuation
    private let stopped = Atomic<Bool>(false)

    init(registration: EventHandlerRegistration, consumer: Consumer, processor: DeliveryProcessor) {
        self.registration = registration
        self.consumer = consumer
        self.processor = processor
        (intake, intakeContinuation) = AsyncStream.makeStream(of: Consumer.Delivery?.self)
    }

    /// Runs until `stop()` (then finishes the handlers in flight) or cancellation.
    func run() async {
        await withTaskGroup(of: Void.self) { tasks in
            // Forwards deliveries into the intake; cancelled once the loop below is done.
            tasks.addTask { [consumer, intakeContinuation] in
                for await d in consumer.deliveries { intakeContinuation.yield(d) }
                intakeContinuation.yield(nil)
            }
            await handleIntake()
            tasks.cancelAll()
        }
    }

    /// Stops starting deliveries (graceful shutdown, step 1).
    func stop() {
        consumer.drain()
        stopped.store(true, ordering: .sequentiallyConsistent)
        intakeContinuation.yield(nil)
    }

    /// Whether `stop()` was called (a `run()` that returned without it ended on its own).
    var isStopped: Bool { stopped.load(ordering: .sequentiallyConsistent) }

    private func handleIntake() async {
        let limit = registration.concurrency
        await withTaskGroup(of: Void.self) { handlers in
            var running = 0
            for await item in intake {
                guard let delivery = item, !isStopped else { break }
                if running >= limit {
                    await handlers.next()
                    running -= 1
                }
                if isStopped { break }
                handlers.addTask { [processor] in await processor.process(delivery) }
                running += 1
            }
        }
    }
}
