internal import CZeroMQ

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Every libzmq call goes through here, like SwiftNIO's `System.swift`:
/// - errno is read with `zmq_errno()` right after the call, before any other Swift runs;
/// - EINTR is retried (signals are handled by swift-service-lifecycle, not by us);
/// - EAGAIN is returned as `.wouldBlock` so non-blocking paths treat it as a value;
/// - EFAULT and ENOTSOCK can only mean a bug in this module (a closed or wild socket
///   pointer), so they trap instead of throwing.
enum Syscall {
    enum Outcome {
        case ok(Int32)
        case wouldBlock
    }

    /// Runs `body` until it does not fail with EINTR. Returns `.wouldBlock` for EAGAIN.
    @inline(__always)
    static func call(_ operation: @autoclosure () -> String, _ body: () -> Int32) throws(ZMQError) -> Outcome {
        while true {
            let rc = body()
            if rc >= 0 { return .ok(rc) }
            let e = zmq_errno()
            switch e {
            case EINTR: continue
            case EAGAIN: return .wouldBlock
            case EFAULT, ENOTSOCK:
                fatalError("libzmq \(operation()) failed with errno \(e): a closed or invalid socket was used")
            default:
                throw ZMQError(errno: e, operation: operation())
            }
        }
    }

    /// Like `call`, but EAGAIN is an error too (for calls that never legitimately block).
    @inline(__always)
    @discardableResult
    static func mustSucceed(_ operation: @autoclosure () -> String, _ body: () -> Int32) throws(ZMQError) -> Int32 {
        switch try call(operation(), body) {
        case .ok(let rc): return rc
        case .wouldBlock: throw ZMQError(errno: EAGAIN, operation: operation())
        }
    }
}
