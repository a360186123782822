import Foundation
import MetroTestKit
import Testing

/// The kit's promise: its waits suspend, they never hold a thread of the
/// cooperative pool.
@Suite struct MetroTestKitTests {
    /// More processes awaited at once than the pool has threads. Each child exits only
    /// once this test has created a flag file, and the test can only get there after
    /// every wait has started: with waits that block their thread (the harness before
    /// MetroTestKit polled with usleep), the pool is full, this task cannot resume,
    /// and every wait times out with nil.
    @Test(.timeLimit(.minutes(1))) func awaitsMoreProcessesThanThePoolHasThreads() async throws {
        let dir = try TemporaryDirectory()
        let flag = dir.path + "/go"
        let count = ProcessInfo.processInfo.activeProcessorCount * 2 + 2
        let waiting = Locked(0)
        let statuses = try await withThrowingTaskGroup(of: Int32?.self) { group in
            for _ in 0..<count {
                let p = try MetroProcess(["--version"], shell: "while [ ! -e '\(flag)' ]; do sleep 0.01; done")
                group.addTask {
                    waiting.withLock { $0 += 1 }
                    return await p.waitForExit(timeout: .seconds(20))
                }
            }
            try await eventually("all \(count) waits started", timeout: .seconds(20)) {
                waiting.withLock { $0 } == count
            }
            #expect(FileManager.default.createFile(atPath: flag, contents: nil))
            var statuses: [Int32?] = []
            for try await s in group { statuses.append(s) }
            return statuses
        }
        #expect(statuses == Array(repeating: 0, count: count))
    }

    @Test func aWaitEndsWhenAnotherThreadMakesItsConditionTrue() async {
        let value = Watched(0)
        let waiter = Task { await value.wait(timeout: .seconds(30)) { $0 >= 3 } }
        Thread { for _ in 0..<3 { value.update { $0 += 1 } } }.start()
        #expect(await waiter.value)
        #expect(value.value == 3)
    }

    @Test(.timeLimit(.minutes(1))) func aWaitEndsAtItsTimeoutAndOnCancellation() async {
        let value = Watched(0)
        #expect(await value.wait(timeout: .milliseconds(50)) { $0 == 1 } == false)
        let cancelled = Task { await value.wait(timeout: .seconds(600)) { $0 == 1 } }
        cancelled.cancel()
        #expect(await cancelled.value == false)
        value.update { $0 = 1 }
        #expect(await value.wait(timeout: .seconds(600)) { $0 == 1 })
    }

    @Test func aProcessThatExitsBeforeItsReadyLineFailsTheWaitWithItsStatusAndStderr() async throws {
        let p = try MetroProcess(["broker", "--no-such-option"])
        await #expect {
            try await p.waitUntilReady(timeout: .seconds(20))
        } throws: { error in
            guard case MetroProcessError.exited(let status, let stderr) = error else { return false }
            return status != 0 && stderr.contains("no-such-option")
        }
    }
}
