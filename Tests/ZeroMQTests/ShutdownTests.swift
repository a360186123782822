import Foundation
import Testing
import ZeroMQ

@Suite struct ShutdownTests {
    /// A thread blocked in receive wakes with `.contextTerminated` on shutdown, closes
    /// its socket, and the context then ends promptly even with unsent messages queued.
    @Test func shutdownWithSocketsStillOpenFinishesPromptly() throws {
        let start = ContinuousClock.now
        let finished = DispatchSemaphore(value: 0)
        do {
            let ctx = try Context(defaultLingerMilliseconds: 100)
            // A socket with undeliverable messages queued (nobody listens).
            let stuck = try ctx.socket(.dealer)
            try stuck.connect("tcp://127.0.0.1:1")
            _ = try stuck.trySend([1, 2, 3])

            let blocked = DispatchSemaphore(value: 0)
            let sawTermination = SendableBox(false)
            let thread = Thread { [ctx] in
                do {
                    let s = try ctx.socket(.pull)
                    try s.bind("inproc://blocked")
                    blocked.signal()
                    _ = try s.receive()
                } catch let error as ZMQError {
                    sawTermination.value = error.code == .contextTerminated
                } catch {
                    Issue.record("unexpected \(error)")
                }
                finished.signal()
            }
            thread.start()
            blocked.wait()
            ctx.shutdown()
            #expect(finished.wait(timeout: .now() + 5) == .success)
            #expect(sawTermination.value)
            stuck.close()
        }  // the Context deinit terminates it here
        #expect(ContinuousClock.now - start < .seconds(3))
    }

    @Test func versionAndCapabilities() {
        #expect(LibraryVersion.current >= LibraryVersion(major: 4, minor: 3, patch: 0))
        _ = Capability.allCases.map(\.isAvailable)
    }
}

final class SendableBox<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var _value: T
    init(_ value: T) { _value = value }
    var value: T {
        get { lock.withLock { _value } }
        set { lock.withLock { _value = newValue } }
    }
}
