import Synchronization
import Testing
import ZeroMQ

/// The small shared helpers: milliseconds of a `Duration`, the wake pipe, a thread awaited.
@Suite struct RuntimeHelperTests {
    final class Count: Sendable { let n = Mutex(0) }

    @Test func durationsBecomeWholeMillisecondsTruncated() {
        #expect(Duration.seconds(2).inMilliseconds == 2000)
        #expect(Duration.milliseconds(1500).inMilliseconds == 1500)
        #expect(Duration.microseconds(1999).inMilliseconds == 1)
        #expect(Duration.nanoseconds(999_999).inMilliseconds == 0)
        #expect(Duration.zero.inMilliseconds == 0)
        #expect(Duration.milliseconds(-3).inMilliseconds == -3)
    }

    @Test func aWakePipeWakesAPollAndDrainsEmpty() throws {
        let pipe = WakePipe()
        let poller = Poller()
        let item = poller.add(fileDescriptor: pipe.readFD)
        #expect(try poller.poll(timeoutMilliseconds: 0) == 0)
        for _ in 0..<100_000 { pipe.wake() }  // more than a pipe holds: never blocks
        #expect(try poller.poll(timeoutMilliseconds: 0) == 1 && poller.isReadable(item))
        pipe.drain()
        #expect(try poller.poll(timeoutMilliseconds: 0) == 0)
    }

    @Test func aDedicatedThreadIsAwaitedWithoutBlocking() async {
        let ran = Count()
        let thread = DedicatedThread(name: "zmq-test-dt") { ran.n.withLock { $0 += 1 } }
        #expect(!thread.hasEnded)
        thread.start()
        thread.start()  // once only
        await thread.join()
        await thread.join()
        #expect(thread.hasEnded && ran.n.withLock { $0 } == 1)
        await DedicatedThread.run(name: "zmq-test-dt2") { ran.n.withLock { $0 += 1 } }
        #expect(ran.n.withLock { $0 } == 2)
    }
}
