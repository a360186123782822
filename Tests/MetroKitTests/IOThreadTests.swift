import Foundation
import Logging
import MetroProtocol
import MetroTestKit
import Synchronization
import Testing
import ZeroMQ

@testable import MetroKit

/// The `IOThread` life: lazy start, commands, stop before start, stop twice and from
/// many tasks, a loop that fails, and a dropped owner. Threads are counted by name
/// in /proc/self/task, each test with its own name, so parallel tests do not mix.
@Suite struct IOThreadTests {
    /// A loop that answers `.echo` and counts its turns and finishes.
    final class EchoLoop: IOThreadLoop {
        enum Command: Sendable {
            case echo(Int, CheckedContinuation<Int, Never>)
            case fail
        }
        struct Failure: Error {}

        let poller = Poller()
        let pollTimeoutMilliseconds = -1
        let record: Record

        init(setup: IOThread<EchoLoop>.Setup, record: Record) {
            poller.add(fileDescriptor: setup.wakeFD)
            self.record = record
        }

        func handle(_ commands: [Command]) throws -> Bool {
            for c in commands {
                switch c {
                case .echo(let n, let k): k.resume(returning: n)
                case .fail: throw Failure()
                }
            }
            return true
        }

        func finish() { record.finishes.withLock { $0 += 1 } }
    }

    /// Counts of what happened, shared with the loop and `onEnd`.
    final class Record: Sendable {
        let finishes = Mutex(0)
        let ends = Mutex(0)
        let unhandled = Mutex(0)
    }

    static func make(_ name: String, record: Record, failToStart: Bool = false) throws -> IOThread<EchoLoop> {
        let context = try Context(ioThreads: 1, defaultLingerMilliseconds: 0)
        return IOThread(
            name: name, context: context, logger: Logger(label: "test"),
            makeLoop: { setup in
                if failToStart { throw EchoLoop.Failure() }
                return EchoLoop(setup: setup, record: record)
            },
            onEnd: { rest in
                record.ends.withLock { $0 += 1 }
                record.unhandled.withLock { $0 += rest.count }
                for case .echo(_, let k) in rest { k.resume(returning: -1) }
            })
    }

    static func echo(_ io: IOThread<EchoLoop>, _ n: Int) async -> Int {
        await withCheckedContinuation { k in
            if !io.send(.echo(n, k)) { k.resume(returning: -1) }
        }
    }

    /// Threads of this process whose name is `name` (Linux keeps 15 bytes of it).
    static func threads(named name: String) -> Int {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        return tasks.filter { tid in
            let comm = (try? String(contentsOfFile: "/proc/self/task/\(tid)/comm", encoding: .utf8)) ?? ""
            return comm.trimmingCharacters(in: .whitespacesAndNewlines) == String(name.prefix(15))
        }.count
    }

    @Test func noThreadUntilFirstUseThenCommandsThenShutdownEndsIt() async throws {
        let record = Record()
        let io = try Self.make("iot-basic", record: record)
        #expect(Self.threads(named: "iot-basic") == 0, "init starts no thread")
        #expect(await Self.echo(io, 7) == 7)
        #expect(Self.threads(named: "iot-basic") == 1)
        #expect(await Self.echo(io, 8) == 8)
        await io.shutdown()
        #expect(record.finishes.withLock { $0 } == 1 && record.ends.withLock { $0 } == 1)
        try await eventually("the thread gone") { Self.threads(named: "iot-basic") == 0 }
        #expect(await Self.echo(io, 9) == -1, "a stopped thread takes no command")
        await io.shutdown()  // twice: returns at once
        #expect(record.finishes.withLock { $0 } == 1 && record.ends.withLock { $0 } == 1)
    }

    @Test func shutdownBeforeFirstUseNeverStartsTheThread() async throws {
        let record = Record()
        let io = try Self.make("iot-early", record: record)
        await io.shutdown()
        #expect(record.ends.withLock { $0 } == 1 && record.finishes.withLock { $0 } == 0)
        #expect(await Self.echo(io, 1) == -1)
        await io.run()  // returns at once: it has ended
        #expect(Self.threads(named: "iot-early") == 0)
    }

    @Test func shutdownFromManyTasksAtOnceEndsOnce() async throws {
        let record = Record()
        let io = try Self.make("iot-many", record: record)
        #expect(await Self.echo(io, 1) == 1)
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<200 { group.addTask { await io.shutdown() } }
        }
        #expect(record.finishes.withLock { $0 } == 1 && record.ends.withLock { $0 } == 1)
    }

    @Test func runEndsWhenItsTaskIsCancelled() async throws {
        let record = Record()
        let io = try Self.make("iot-run", record: record)
        let running = Task { await io.run() }
        #expect(await Self.echo(io, 3) == 3)
        running.cancel()
        await running.value
        #expect(record.finishes.withLock { $0 } == 1)
        #expect(await Self.echo(io, 4) == -1)
    }

    @Test func aLoopThatThrowsEndsTheThreadAndAnswersWhatWasQueued() async throws {
        let record = Record()
        let io = try Self.make("iot-throw", record: record)
        #expect(await Self.echo(io, 1) == 1)
        io.send(.fail)
        await io.join()
        #expect(record.finishes.withLock { $0 } == 1 && record.ends.withLock { $0 } == 1)
        #expect(await Self.echo(io, 2) == -1)
    }

    @Test func aLoopThatCannotStartAnswersTheCommandsThatStartedIt() async throws {
        let record = Record()
        let io = try Self.make("iot-nostart", record: record, failToStart: true)
        #expect(await Self.echo(io, 1) == -1)
        await io.join()
        #expect(record.finishes.withLock { $0 } == 0 && record.ends.withLock { $0 } == 1)
    }

    /// A client dropped without `close()`: its `deinit` only asks the thread to stop,
    /// returns at once, and the thread ends and releases the `IOThread`.
    @Test func aPublisherDroppedWithoutCloseEndsItsThread() async throws {
        let context = try Context(defaultLingerMilliseconds: 0)
        let silent = try context.socket(.router)
        defer { silent.close() }
        let endpoint = try silent.bindResolved("tcp://127.0.0.1:*")
        weak var io: IOThread<PublisherLoop>?
        var publisher: Publisher? = try Publisher(.init(ingest: endpoint, publish: endpoint), context: context)
        io = publisher!.io
        // Starts the I/O thread (the message is held: nothing subscribes at a ROUTER).
        try publisher!.fireAndForget(topic: "a.b", payload: [1])
        #expect(io?.isStarted == true)
        publisher = nil  // deinit only asks the thread to stop
        try await eventually("the I/O thread ended and released") { io == nil }
    }
}

/// Every error maps to one category, from the type alone (for the gateway's HTTP status).
@Suite struct MetroClientErrorTests {
    @Test func everyWireCodeHasACategoryAndTheCodesTheirs() async {
        let rejected = WireErrorCode.allCases.map {
            MetroClientError.rejected(WireError($0, "x"), operation: "publish").category
        }
        #expect(rejected.count == WireErrorCode.allCases.count)
        #expect(MetroClientError.rejected(WireError(.invalidTopic, "x"), operation: "p").category == .invalid)
        #expect(MetroClientError.rejected(WireError(.journalFailure, "x"), operation: "p").category == .unavailable)
        #expect(MetroClientError.rejected(WireError(.staleEpoch, "x"), operation: "p").category == .rejected)
        #expect(MetroClientError.closed("publish").category == .unavailable)
        #expect(MetroClientError(.timedOut, operation: "publish", message: "").category == .timeout)
        #expect(MetroClientError(.unreachable, operation: "registry LIST", message: "").category == .unavailable)
        #expect(MetroClientError(.invalidArgument, operation: "publish", message: "").category == .invalid)
        #expect(MetroClientError(.protocolViolation, operation: "x", message: "").category == .unavailable)
        #expect(MetroClientError.closed("publish") == MetroClientError.closed("publish"))
        #expect(MetroClientError.closed("publish").code == .closed)
    }
}
