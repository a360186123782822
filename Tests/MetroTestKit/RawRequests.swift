import Foundation
package import ZeroMQ

#if canImport(Glibc)
    import Glibc
#endif

/// The ZeroMQ context of the kit's raw clients (linger 0: a test's sockets never
/// hold up its end).
package let testContext = try! Context(ioThreads: 1, defaultLingerMilliseconds: 0)

/// One request/reply over a fresh DEALER, as a foreign client would send it;
/// waits up to 5 s for the reply, on a thread of its own (`offPool`).
package func request(on endpoint: String, _ frames: [[UInt8]]) async throws -> [[UInt8]] {
    try await offPool {
        let s = try testContext.socket(.dealer)
        defer { s.close() }
        try s.set(.receiveTimeout(milliseconds: 5000))
        try s.connect(endpoint)
        try s.send(multipart: frames)
        guard let reply = try s.receiveMultipart() else { throw WaitError.timedOut("reply from \(endpoint)") }
        return reply
    }
}

/// A minimal HTTP/1.0 GET over a plain TCP socket (`host:port`); returns the whole response.
package func httpGet(_ address: String, path: String) async throws -> String {
    try await tcpExchange(address, Array("GET \(path) HTTP/1.0\r\n\r\n".utf8))
}

/// Sends `request` over a new TCP connection to `host:port`, half-closes, and
/// returns everything received until the peer closes (or 5 s pass). Reads on a
/// thread of its own (`offPool`).
package func tcpExchange(_ address: String, _ request: [UInt8]) async throws -> String {
    try await offPool { try tcpExchangeBlocking(address, request) }
}

private func tcpExchangeBlocking(_ address: String, _ request: [UInt8]) throws -> String {
    let parts = address.split(separator: ":")
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = UInt16(parts[1])!.bigEndian
    inet_pton(AF_INET, String(parts[0]), &addr.sin_addr)
    let rc = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    guard rc == 0 else { throw WaitError.unexpected("connect \(address)") }
    var timeout = timeval(tv_sec: 5, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    shutdown(fd, Int32(SHUT_WR))
    var response = [UInt8]()
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n <= 0 { break }
        response += chunk[0..<n]
    }
    return String(decoding: response, as: UTF8.self)
}
