import Foundation
import Logging
import MetroProtocol
import ServiceLifecycle
import ZeroMQ

#if canImport(Glibc)
    import Glibc
#endif

/// A tiny HTTP/1.0 listener for Prometheus: `GET /metrics` answers with the
/// broker's METRICS reply, fetched over the consume socket like any client would
/// (so no socket is shared with the broker's loop). One request at a time on its
/// own thread; anything but `GET /metrics` gets 404. Hummingbird would be the
/// choice for a real HTTP surface; this avoids its build cost for one endpoint.
public final class MetricsHTTPServer: Service, @unchecked Sendable {
    private let listenFD: Int32
    private let consumeEndpoint: String
    private let logger: Logger
    /// `host:port` actually bound.
    public let boundAddress: String

    /// Binds `listen` (`host:port`; port 0 picks a free one) now, serves in `run()`.
    public init(listen: String, consumeEndpoint: String, logger: Logger) throws {
        self.consumeEndpoint = consumeEndpoint
        self.logger = logger
        guard let colon = listen.lastIndex(of: ":"), let port = UInt16(listen[listen.index(after: colon)...]) else {
            throw JournalError(operation: "parse metrics address", path: listen, errno: EINVAL)
        }
        let host = String(listen[..<colon])
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw JournalError(operation: "socket", path: listen, errno: errno) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        guard inet_pton(AF_INET, host, &addr.sin_addr) == 1 else {
            close(fd)
            throw JournalError(operation: "parse metrics host", path: listen, errno: EINVAL)
        }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard rc == 0, Glibc.listen(fd, 16) == 0 else {
            let e = errno
            close(fd)
            throw JournalError(operation: "bind", path: listen, errno: e)
        }
        var bound = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &bound) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        listenFD = fd
        boundAddress = "\(host):\(UInt16(bigEndian: bound.sin_port))"
    }

    public func run() async throws {
        await withGracefulShutdownHandler {
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                let thread = Thread { [self] in
                    serve()
                    done.resume()
                }
                thread.name = "metro-metrics-http"
                thread.start()
            }
        } onGracefulShutdown: { [listenFD] in
            // Wakes the blocked accept(); the thread then closes the socket.
            shutdown(listenFD, Int32(SHUT_RDWR))
        }
    }

    private func serve() {
        defer { close(listenFD) }
        while true {
            let client = accept(listenFD, nil, nil)
            if client < 0 {
                if errno == EINTR { continue }
                return
            }
            handle(client)
            close(client)
        }
    }

    private func handle(_ fd: Int32) {
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var request = [UInt8](repeating: 0, count: 4096)
        let n = recv(fd, &request, request.count, 0)
        guard n > 0 else { return }
        let line = String(decoding: request[0..<n], as: UTF8.self).prefix { $0 != "\r" && $0 != "\n" }
        let response: String
        if line.hasPrefix("GET /metrics") {
            let body = (try? fetchMetrics()) ?? "# metro broker did not answer METRICS\n"
            response =
                "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: \(body.utf8.count)\r\n\r\n"
                + body
        } else {
            response = "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n"
        }
        let bytes = Array(response.utf8)
        bytes.withUnsafeBytes { raw in
            var sent = 0
            while sent < raw.count {
                let w = send(fd, raw.baseAddress! + sent, raw.count - sent, Int32(MSG_NOSIGNAL))
                if w <= 0 { return }
                sent += w
            }
        }
    }

    private func fetchMetrics() throws -> String {
        let context = try Context(ioThreads: 1, defaultLingerMilliseconds: 0)
        let socket = try context.socket(.dealer)
        defer { socket.close() }
        try socket.set(.receiveTimeout(milliseconds: 2000))
        try socket.connect(consumeEndpoint)
        try socket.send(multipart: ConsumeCodec.requestFrames(.metrics))
        guard let frames = try socket.receiveMultipart(), frames.count == 3 else { return "" }
        return String(decoding: frames[2], as: UTF8.self)
    }
}
