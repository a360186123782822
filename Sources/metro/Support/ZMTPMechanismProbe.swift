import Foundation
import MetroKit

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
    /// What a TCP endpoint is, as far as a greeting tells.
    enum Finding: Equatable {
        /// The connection was refused: nothing listens there.
        case nothingListens
        /// Something took the connection but sent no ZMTP 3 greeting in time.
        case notZMTP
        /// A ZMTP 3 peer asking for this mechanism (`NULL`, `PLAIN`, `CURVE`).
        case mechanism(String)
    }

    /// The mechanism's name, or nil when nothing there speaks ZMTP 3 within `timeout`.
    static func mechanism(of endpoint: String, timeout: Duration = .milliseconds(500)) -> String? {
        if case .mechanism(let name) = probe(endpoint, timeout: timeout) { return name }
        return nil
    }

    /// Why a client's requests to `endpoint` may go unanswered, as a parenthesis to
    /// add to its timeout message; "" when the greeting gives no reason. `curve`:
    /// whether the client spoke CURVE. A CURVE server ignores a plain client, and a
    /// plain one a CURVE client, without a word: this says which it was.
    static func silenceReason(_ endpoint: String, curve: Bool) -> String {
        switch probe(endpoint, timeout: .milliseconds(300)) {
        case .nothingListens:
            return " (nothing listens there: is the system running? `metro up` starts it)"
        case .mechanism("CURVE") where !curve:
            return
                " (it requires CURVE: pass --keys DIR or set METRO_KEYS to the system's key folder; `metro up --secure` made <data-dir>/keys)"
        case .mechanism("NULL") where curve:
            return " (it speaks plain ZMTP, not CURVE: drop --keys and unset METRO_KEYS)"
        case .mechanism("CURVE"):
            return " (it requires CURVE and did not take this key: is --keys or METRO_KEYS this system's key folder?)"
        default:
            return ""
        }
    }

    /// `error` with the reason the servers at `endpoints` were silent, when it is a
    /// timeout and a greeting gives one; else `error` itself.
    static func explain(_ error: any Error, endpoints: [String], curve: Bool) -> any Error {
        guard let client = error as? MetroClientError, [.timedOut, .unreachable].contains(client.code) else {
            return error
        }
        let reasons = Set(endpoints.map { silenceReason($0, curve: curve) }).subtracting([""])
        guard let reason = reasons.first, reasons.count == 1 else { return error }
        return Explained(text: "\(error)\(reason)")
    }

    struct Explained: Error, CustomStringConvertible {
        let text: String
        var description: String { text }
    }

    /// The greeting of the ZeroMQ server at `endpoint`, or why there is none.
    static func probe(_ endpoint: String, timeout: Duration = .milliseconds(500)) -> Finding {
        guard endpoint.hasPrefix("tcp://") else { return .notZMTP }
        let address = endpoint.dropFirst("tcp://".count)
        guard let colon = address.lastIndex(of: ":") else { return .notZMTP }
        var host = String(address[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host == "*" || host.isEmpty { host = "127.0.0.1" }
        let port = String(address[address.index(after: colon)...])
        let fd: Int32
        switch connect(host: host, port: port, timeout: timeout) {
        case .success(let connected): fd = connected
        case .failure(let error): return error.code == ECONNREFUSED ? .nothingListens : .notZMTP
        }
        defer { close(fd) }
        let greeting: [UInt8] = [0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 3]
        guard greeting.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == greeting.count
        else { return .notZMTP }
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64)
        while answer.count < 32 {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, 64 - answer.count, 0) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return .notZMTP }
            answer += buffer[0..<n]
        }
        // The signature (0xFF … 0x7F), then major version 3.
        guard answer[0] == 0xFF, answer[9] == 0x7F, answer[10] >= 3 else { return .notZMTP }
        let name = answer[12..<32].prefix { $0 != 0 }
        guard !name.isEmpty, name.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else { return .notZMTP }
        return .mechanism(String(decoding: name, as: UTF8.self))
    }

    struct ConnectError: Error {
        let code: Int32
    }

    /// A TCP connection to `host:port` with send and receive timeouts, or connect's errno.
    private static func connect(host: String, port: String, timeout: Duration) -> Result<Int32, ConnectError> {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, port, &hints, &list) == 0, let first = list else {
            return .failure(ConnectError(code: EINVAL))
        }
        defer { freeaddrinfo(list) }
        let fd = socket(first.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return .failure(ConnectError(code: errno)) }
        let micros = timeout.components.seconds * 1_000_000 + timeout.components.attoseconds / 1_000_000_000_000
        var limit = timeval(tv_sec: Int(micros / 1_000_000), tv_usec: Int(micros % 1_000_000))
        let size = socklen_t(MemoryLayout<timeval>.size)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, size)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, size)
        guard Glibc.connect(fd, first.pointee.ai_addr, first.pointee.ai_addrlen) == 0 else {
            let code = errno
            close(fd)
            return .failure(ConnectError(code: code))
        }
        return .success(fd)
    }
}

extension BrokerAdminClient {
    /// `body`'s result; a timeout comes back with why the broker was silent (`ZMTPMechanismProbe.explain`).
    func explained<T>(_ body: (BrokerAdminClient) throws -> T) throws -> T {
        do {
            return try body(self)
        } catch {
            throw ZMTPMechanismProbe.explain(error, endpoints: [consumeEndpoint], curve: curve != nil)
        }
    }
}
