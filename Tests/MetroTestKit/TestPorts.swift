import Synchronization
import ZeroMQ

#if canImport(Glibc)
    import Glibc
#endif

/// Ports for tests that must tell a process its ports up front, or that start a
/// process again on the ports it had: 20000-31999, below the kernel's ephemeral
/// range (32768-60999 here), which neither a port-0 bind nor an outgoing
/// connection's source port ever uses. Each test process starts at its own offset
/// (a block of 400 by pid, 30 blocks) and walks on from there through the whole
/// range, so a port is not handed out twice within a run (the suite takes about
/// 600) and parallel test processes rarely meet.
///
/// Why not "bind port 0, release it": another test binding `:*` at the same moment
/// can be handed the released port (seen once as `metro up` never getting ready,
/// docs/performance.md). Why not keep the first process's ephemeral port for a
/// restart: in the gap after a kill -9 the kernel may hand it to any other test's
/// bind or connect (a restarted broker failed with EADDRINUSE in a clean-clone CI
/// run, docs/performance.md). Why not wrap inside the block: a block of 40 wrapped
/// once the services' tests came, and a port was handed out again while its first
/// owner still needed it.
package enum TestPorts {
    private static let counter = Mutex(0)

    static let blockSize = 400
    static let first = 20_000
    static let count = 12_000

    /// The next port of this process's walk (wraps only after all 12,000).
    package static func next() -> Int {
        let offset = Int(getpid() % 30) * blockSize
        return counter.withLock { n in
            defer { n += 1 }
            return first + (offset + n) % count
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
