import Synchronization

/// A context's ZAP handler (ZeroMQ RFC 27): a REP socket bound at
/// `inproc://zeromq.zap.01` that libzmq asks, for every CURVE handshake on any
/// socket of the same context, whether the peer may in. `decide` answers.
///
/// Bind it (`init`) before any CURVE server socket of the context binds: from
/// that moment every handshake waits for an answer, so no connection slips in
/// unauthenticated while the handler thread is starting. One handler per context.
///
/// Threading: `init` binds on the calling thread; `run()` then owns the socket on
/// the thread that calls it (a `DedicatedThread`) until `stop()` or the context's
/// shutdown, and closes it. `stop()` from any thread. `decide` runs on the
/// handler's thread, one request at a time, and holds up that handshake (and the
/// ones queued behind it) while it runs: keep it to a table look-up.
public final class ZapHandler: @unchecked Sendable {
    /// The endpoint RFC 27 fixes; libzmq connects to it inside each context.
    public static let endpoint = "inproc://zeromq.zap.01"

    // Owned by the thread running `run()` once it starts (see the type's comment).
    private let socket: Socket
    private let decide: @Sendable (ZapRequest) -> ZapDecision
    private let wake = WakePipe()
    private let stopping = Atomic<Bool>(false)

    /// Binds the handler in `context`. Throws `.addressInUse` when the context has one.
    public init(context: Context, decide: @escaping @Sendable (ZapRequest) -> ZapDecision) throws(ZMQError) {
        socket = try context.socket(.rep)
        try socket.bind(Self.endpoint)
        self.decide = decide
    }

    /// Answers requests until `stop()` or the context's shutdown, then closes the
    /// socket. Blocks the calling thread. Returns the error that ended it otherwise
    /// (none is expected: REP hands over whole requests); then every later CURVE
    /// handshake of the context waits forever, failing closed, and the owner should
    /// log it.
    @discardableResult
    public func run() -> ZMQError? {
        defer { socket.close() }
        let poller = Poller()
        let requests = poller.add(socket)
        let control = poller.add(fileDescriptor: wake.readFD)
        while !stopping.load(ordering: .acquiring) {
            do throws(ZMQError) {
                try poller.poll(timeoutMilliseconds: -1)
                if poller.isReadable(control) { wake.drain() }
                guard poller.isReadable(requests) else { continue }
                while let frames = try socket.receiveMultipart(dontWait: true) {
                    try socket.send(multipart: answer(frames))
                }
            } catch  where error.code == .contextTerminated {
                return nil
            } catch {
                return error
            }
        }
        return nil
    }

    /// Ends `run()`; any thread.
    public func stop() {
        stopping.store(true, ordering: .releasing)
        wake.wake()
    }

    /// The reply's frames for one request's. A request that is not RFC 27's
    /// (libzmq never sends one) gets 500 with whatever id it carried.
    func answer(_ frames: [[UInt8]]) -> [[UInt8]] {
        guard let request = ZapRequest(frames: frames) else {
            let id = frames.count > 1 ? frames[1] : []
            return ZapDecision.internalError(reason: "malformed ZAP request").replyFrames(requestID: id)
        }
        return decide(request).replyFrames(requestID: request.requestID)
    }
}
