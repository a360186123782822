import Dispatch
import Logging
import MetroTestKit
import Synchronization
import Testing
import ZeroMQ

@testable import MetroKit

/// How an `IOThread` is woken: a command queued while the thread works costs no
/// wake-pipe write, and none is ever lost (commands from many tasks at once, each
/// waiting for its answer, all answered; a lost wake-up would leave one waiting
/// forever, since this loop polls without a timeout).
@Suite struct IOThreadWakeTests {
    /// Answers `.echo`; `.hold` blocks the turn until its gate opens (the thread is busy).
    final class HoldLoop: IOThreadLoop {
        enum Command: Sendable {
            case echo(Int, CheckedContinuation<Int, Never>)
            case hold(Hold)
        }

        let poller = Poller()
        let pollTimeoutMilliseconds = -1

        init(setup: IOThread<HoldLoop>.Setup) { poller.add(fileDescriptor: setup.wakeFD) }

        func handle(_ commands: [Command]) throws -> Bool {
            for c in commands {
                switch c {
                case .echo(let n, let k): k.resume(returning: n)
                case .hold(let h):
                    h.entered.store(true, ordering: .releasing)
                    h.gate.wait()
                }
            }
            return true
        }

        func finish() {}
    }

    /// Echoes answered so far, for the watchdog.
    final class Progress: Sendable {
        let count = Atomic<Int>(0)
    }

    /// A turn that waits for the test: `entered` once the thread is in it, `gate` lets it go on.
    final class Hold: Sendable {
        let entered = Atomic<Bool>(false)
        let gate = DispatchSemaphore(value: 0)
    }

    static func make(_ name: String) throws -> IOThread<HoldLoop> {
        IOThread(
            name: name, context: try Context(ioThreads: 1, defaultLingerMilliseconds: 0), logger: Logger(label: "test"),
            makeLoop: { HoldLoop(setup: $0) },
            onEnd: { rest in for case .echo(_, let k) in rest { k.resume(returning: -1) } })
    }

    static func echo(_ io: IOThread<HoldLoop>, _ n: Int) async -> Int {
        await withCheckedContinuation { k in
            if !io.send(.echo(n, k)) { k.resume(returning: -1) }
        }
    }

    @Test func commandsQueuedWhileTheThreadWorksWriteNoWake() async throws {
        let io = try Self.make("iot-wake-busy")
        #expect(await Self.echo(io, 1) == 1)
        let hold = Hold()
        io.send(.hold(hold))
        try await eventually("the thread busy in its turn") { hold.entered.load(ordering: .acquiring) }
        let before = io.wakeWrites
        // 100 commands while the thread is busy: it will find them when the turn ends.
        let answers = Task {
            await withTaskGroup(of: Int.self) { group in
                for n in 0..<100 { group.addTask { await Self.echo(io, n) } }
                return await group.reduce(0, +)
            }
        }
        try await eventually("the commands queued") { io.queuedCommands == 100 }
        #expect(io.wakeWrites == before, "the thread was awake: no command needed to write the pipe")
        hold.gate.signal()
        #expect(await answers.value == (0..<100).reduce(0, +))
        await io.shutdown()
    }

    /// One caller, one echo at a time: the next command is sent just as the thread
    /// goes back to its poll, the window a lost wake-up would fall into, and nobody
    /// else sends to rescue it.
    @Test func oneCallerBackToBackLosesNoWakeUp() async throws {
        let io = try Self.make("iot-wake-seq")
        let progress = Progress()
        let watchdog = Self.watchdog(io, progress)
        var answered = 0
        for i in 0..<20_000 where await Self.echo(io, i) == i {
            answered += 1
            progress.count.add(1, ordering: .releasing)
        }
        watchdog.cancel()
        #expect(answered == 20_000)
        await io.shutdown()
    }

    /// A lost wake-up stops every echo for good; a busy machine only slows them.
    /// So the watchdog judges progress, not the total time: no echo answered for
    /// 20 s is a hang (an echo takes microseconds), and it then says so and stops
    /// the thread so that the test ends. A fixed 60 s for the whole run failed in
    /// full-suite runs at load 18–45 (16,169 and 414 of 20,000 answered, still
    /// moving) without any wake-up lost.
    static func watchdog(_ io: IOThread<HoldLoop>, _ progress: Progress) -> Task<Void, Never> {
        Task {
            var last = -1
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(20))
                if Task.isCancelled { return }
                let now = progress.count.load(ordering: .acquiring)
                if now == last {
                    Issue.record("no echo answered for 20 s at \(now): a lost wake-up")
                    io.requestStop()
                    return
                }
                last = now
            }
        }
    }

    @Test func manyTasksAtOnceLoseNoWakeUp() async throws {
        let io = try Self.make("iot-wake-race")
        let progress = Progress()
        let watchdog = Self.watchdog(io, progress)
        let total = await withTaskGroup(of: Int.self) { group in
            for t in 0..<8 {
                group.addTask {
                    var sum = 0
                    for i in 0..<3000 {
                        sum += await Self.echo(io, t * 3000 + i)
                        progress.count.add(1, ordering: .releasing)
                    }
                    return sum
                }
            }
            return await group.reduce(0, +)
        }
        watchdog.cancel()
        #expect(total == (0..<24_000).reduce(0, +))
        #expect(io.wakeWrites <= 24_000)
        await io.shutdown()
    }
}
