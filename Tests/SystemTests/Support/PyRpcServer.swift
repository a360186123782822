import Foundation
import MetroTestKit

#if canImport(Glibc)
    import Glibc
#endif

/// A foreign rpc server: a pyzmq ROUTER that speaks protocol.md §6 and answers every
/// REQUEST with REPLY echoing its body, `holdMilliseconds` after it arrived (so
/// calls are in flight when a test kills it); with `holdFromBody`, a body of decimal
/// digits is the hold instead, like `test.sleep` of `TestRpcServer`. A real process,
/// so a test can kill -9 it. Prints `ready {"endpoint": ...}` once bound, like
/// `metro`, and `got <body>` for each request as it arrives (`received`).
final class PyRpcServer: @unchecked Sendable {
    let process: MetroProcess
    let endpoint: String

    static let source = """
        import json, os, time, zmq
        hold = int(os.environ.get("HOLD_MS", "0")) / 1000.0
        hold_from_body = os.environ.get("HOLD_FROM_BODY") == "1"
        ctx = zmq.Context()
        s = ctx.socket(zmq.ROUTER)
        s.setsockopt(zmq.LINGER, 0)
        if os.environ.get("CURVE_SECRET"):  # a CURVE server (protocol.md §7), no ZAP: any client key
            s.curve_server = True
            s.curve_secretkey = os.environ["CURVE_SECRET"].encode()
        port = s.bind_to_random_port("tcp://127.0.0.1")
        print("ready " + json.dumps({"endpoint": "tcp://127.0.0.1:%d" % port}), flush=True)
        pending = []
        poller = zmq.Poller()
        poller.register(s, zmq.POLLIN)
        while True:
            now = time.monotonic()
            while pending and pending[0][0] <= now:
                s.send_multipart(pending.pop(0)[1])
            timeout = max(0.0, (pending[0][0] - now) * 1000) if pending else None
            if poller.poll(timeout):
                while True:
                    try:
                        f = s.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    if len(f) == 8 and f[1] == b"metro/1" and f[2] == b"REQUEST":
                        h = int(f[7]) / 1000.0 if hold_from_body and f[7].isdigit() else hold
                        pending.append((time.monotonic() + h, [f[0], b"metro/1", b"REPLY", f[3], b"{}", f[7]]))
                        pending.sort(key=lambda p: p[0])
                        print("got " + f[7].decode("utf-8", "replace"), flush=True)
        """

    /// Starts the server under the python that has pyzmq (`DocumentedExample.python`);
    /// with `curveSecretKey` (Z85) as a CURVE server.
    init(holdMilliseconds: Int, holdFromBody: Bool = false, curveSecretKey: String? = nil) async throws {
        guard let python = await DocumentedExample.python else {
            throw DocumentedExample.Failed(status: -1, stderr: "no python3 with pyzmq (apt-get install python3-zmq)")
        }
        // The shell execs python in its own place (same pid), so kill -9 hits python.
        process = try MetroProcess(
            [],
            environment: [
                "METRO_PY_SOURCE": Self.source, "HOLD_MS": "\(holdMilliseconds)", "CURVE_SECRET": curveSecretKey ?? "",
                "HOLD_FROM_BODY": holdFromBody ? "1" : "0",
            ],
            shell: "exec \(python) -c \"$METRO_PY_SOURCE\"")
        let ready = try await process.waitUntilReady()
        guard let ep = ready["endpoint"] else { throw WaitError.timedOut("ready line without endpoint") }
        endpoint = ep
    }

    /// How many requests with this body have arrived so far.
    func received(_ body: String) -> Int { process.stdoutLines.filter { $0 == "got \(body)" }.count }

    /// kill -9, and wait until it is gone.
    func crash() async {
        process.kill(SIGKILL)
        _ = await process.waitForExit()
    }
}
