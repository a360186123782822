import ZeroMQ

/// A stand-in for the broker: an XSUB socket where publishers connect and an XPUB socket
/// where subscribers connect, forwarding events down and subscriptions up on its own
/// thread (like `zmq_proxy`). `stop()` (usable in a `defer`) ends the thread, which
/// then closes both sockets; `close()` also awaits that.
package final class FakeBroker: Sendable {
    package let publishEndpoint: String
    package let eventsEndpoint: String
    private let context: Context
    private let thread: DedicatedThread

    package init() throws {
        context = try Context(ioThreads: 1, defaultLingerMilliseconds: 0)
        let xsub = try context.socket(.xsub)
        let xpub = try context.socket(.xpub)
        publishEndpoint = try xsub.bindResolved("tcp://127.0.0.1:*")
        eventsEndpoint = try xpub.bindResolved("tcp://127.0.0.1:*")
        let sockets = Transfer((xsub, xpub))
        thread = DedicatedThread(name: "fake-broker") {
            let (xsub, xpub) = sockets.value
            let poller = Poller()
            poller.add(xsub)
            poller.add(xpub)
            while (try? poller.poll(timeoutMilliseconds: -1)) != nil {
                while let m = try? xsub.receiveMultipart(dontWait: true) { _ = try? xpub.trySend(multipart: m) }
                while let m = try? xpub.receiveMultipart(dontWait: true) { _ = try? xsub.trySend(multipart: m) }
            }
            xsub.close()
            xpub.close()
        }
        thread.start()
    }

    /// Shuts the context down: the poll fails with "context closing", and the
    /// thread closes its sockets and ends. Returns at once.
    package func stop() { context.shutdown() }

    /// `stop()`, then suspends until the thread has closed its sockets.
    package func close() async {
        stop()
        await thread.join()
    }
}
