import Foundation
import MetroKit
import MetroProtocol
import MetroTestKit
import Testing

/// A worker paused (SIGSTOP) longer than the ZMTP heartbeat timeout: the caller's
/// connection breaks and the circuit opens. Resumed, the worker is called again as
/// soon as the connection's handshake succeeds, not after the cool-down: the late
/// answers that used to say "it runs again" went to the broken connection. The
/// chaos soak (seed 7, 90 s) had the gateway refuse a resumed recommendations
/// worker `circuit-open` for ~0.6 s after it was whole again.
@Suite struct RpcBreakerPauseTests {
    @Test func aResumedWorkerIsCalledAgainOnceItsConnectionIsBack() async throws {
        let stack = try await ServiceStack()
        try await closing(stack) {
            let worker = try await stack.start(EchoKind.self)[0]
            var options = RpcClient.Options()
            // Only `heard()` can close this circuit within the test.
            options.breaker = .init(consecutiveFailures: 3, coolDown: .seconds(600))
            options.heartbeatInterval = .milliseconds(200)
            options.defaultDeadline = .seconds(30)
            let client = try RpcClient(endpoints: [worker.rpc], service: "echo", options: options)
            let say = Array(#"{"text":"hi"}"#.utf8)
            func call(_ deadline: Duration) async -> MetroClientError? {
                do {
                    _ = try await client.call(method: "echo.say", body: say, deadline: deadline)
                    return nil
                } catch {
                    return error
                }
            }
            #expect(await call(.seconds(30)) == nil)
            try await worker.process.freeze()
            for _ in 0..<3 { #expect(await call(.milliseconds(300)) != nil) }
            // Past the heartbeat timeout (3 × 200 ms): the connection breaks.
            try await Task.sleep(for: .seconds(1.5))
            let refused = await call(.seconds(1))
            #expect(refused != nil, "the circuit is open, or the connection down")
            worker.process.thaw()
            try await eventually("the worker is called again", timeout: .seconds(20)) {
                await call(.seconds(5)) == nil
            }
            await client.close()
        }
    }
}
