import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Which security mechanism the ZeroMQ server on a TCP port speaks (`NULL`,
/// `PLAIN`, `CURVE`), read from its ZMTP 3 greeting (rfc.zeromq.org/spec/23):
/// 64 bytes, the mechanism's name in bytes 12–31, padded with zeros.
///
/// Why: `metro doctor` and `metro up` ask a taken port who holds it, and a secure
/// Metro broker or registry does not answer a plain STATS (its CURVE handshake
/// refuses a plain peer without a word). The greeting tells "a ZeroMQ server
/// that requires CURVE" from "something else", without keys.
///
/// How: a plain TCP connection sends the 10-byte signature and the major version
/// (3); a ZMTP 3 peer answers with its whole greeting once it has read those 11
/// bytes (libzmq's handshake does), and the connection is closed before any
/// mechanism step, so the server sees a peer that left during its handshake.
/// Not libzmq: a few POSIX calls on one socket, each bounded by `timeout`.
enum ZMTPMechanismProbe {
    /// The mechanism's name, or nil when nothing there speaks ZMTP 3 within `timeout`.
    static func mechanism(of endpoint: String, timeout: Duration = .milliseconds(500)) -> String? {
        guard endpoint.hasPrefix("tcp://") else { return nil }
        let address = endpoint.dropFirst("tcp://".count)
        guard let colon = address.lastIndex(of: ":") else { return nil }
        var host = String(address[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host == "*" || host.isEmpty { host = "127.0.0.1" }
        let port = String(address[address.index(after: colon)...])
        guard let fd = connect(host: host, port: port, timeout: timeout) else { return nil }
        defer { close(fd) }
        let greeting: [UInt8] = [0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 3]
        guard greeting.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == greeting.count
        else { return nil }
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64)
        while answer.count < 32 {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, 64 - answer.count, 0) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return nil }
            answer += buffer[0..<n]
        }
        // The signature (0xFF … 0x7F), then major version 3.
        guard answer[0] == 0xFF, answer[9] == 0x7F, answer[10] >= 3 else { return nil }
        let name = answer[12..<32].prefix { $0 != 0 }
        guard !name.isEmpty, name.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else { return nil }
        return String(decoding: name, as: UTF8.self)
    }

    /// A TCP connection to `host:port` with send and receive timeouts, or nil.
    private static func connect(host: String, port: String, timeout: Duration) -> Int32? {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, port, &hints, &list) == 0, let first = list else { return nil }
        defer { freeaddrinfo(list) }
        let fd = socket(first.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        let micros = timeout.components.seconds * 1_000_000 + timeout.components.attoseconds / 1_000_000_000_000
        var limit = timeval(tv_sec: Int(micros / 1_000_000), tv_usec: Int(micros % 1_000_000))
        let size = socklen_t(MemoryLayout<timeval>.size)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, size)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, size)
        guard Glibc.connect(fd, first.pointee.ai_addr, first.pointee.ai_addrlen) == 0 else {
            close(fd)
            return nil
        }
        return fd
    }
}
