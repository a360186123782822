import Synchronization
import ZeroMQ

#if canImport(Glibc)
    import Glibc
#endif

/// Ports for tests that must tell a process its ports up front: 20000-31999, a
/// block of 400 per process (30 blocks, by pid), so ephemeral (port 0) binds never
/// meet them and parallel test processes rarely share a block.
///
/// A block must outlast the suite: with 40 ports per process the counter wrapped
/// once the services' tests came, and a port was handed out again while its first
/// owner still needed it (a broker killed by `UpTests` could not bind its port
/// again when it restarted, because another test had taken it in the gap).
///
/// Not "bind port 0 and release it": another test binding `:*` at the same
/// moment can be handed the released port (seen once as `metro up` never getting
/// ready, docs/performance.md). Ports below the kernel's ephemeral range
/// (32768-60999 here) are never handed out by a port-0 bind.
package enum TestPorts {
    private static let counter = Mutex(0)

    static let blockSize = 400

    /// The next port of this process's block (wraps after `blockSize`).
    package static func next() -> Int {
        let base = 20_000 + Int(getpid() % 30) * blockSize
        return counter.withLock { n in
            defer { n += 1 }
            return base + n % blockSize
        }
    }

    /// `n` loopback endpoints (`tcp://127.0.0.1:port`) from `next()`, each checked
    /// bindable first and released again before this returns.
    package static func freeEndpoints(_ n: Int) throws -> [String] {
        let ctx = try Context(defaultLingerMilliseconds: 0)
        var found: [String] = []
        while found.count < n {
            let endpoint = "tcp://127.0.0.1:\(next())"
            let s = try ctx.socket(.rep)
            if (try? s.bind(endpoint)) != nil { found.append(endpoint) }
            s.close()
        }
        // `ctx` terminates when it goes out of scope: zmq_ctx_term waits for the I/O
        // thread to close the listeners (closing is asynchronous, docs/performance.md).
        return found
    }
}
