import Foundation
import MetroTestKit

#if canImport(Glibc)
    import Glibc
#endif

/// An HTTP/1.1 answer as the test client read it.
struct HTTPReply: Sendable {
    var status: Int
    /// Header names lower-cased.
    var headers: [String: String]
    var body: [UInt8]

    var text: String { String(decoding: body, as: UTF8.self) }
    /// The body as a JSON object (empty when it is not one).
    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]) ?? [:]
    }
    var isProblem: Bool {
        headers["content-type"] == "application/problem+json" && json["status"] as? Int == status
            && (json["type"] as? String)?.hasPrefix("urn:metro:problem:") == true
    }
}

/// A minimal HTTP/1.1 client for the gateway tests, as any foreign client: one
/// connection per request (`Connection: close`), a request written whole (or a
/// body produced piece by piece), the answer read until the server closes. Each
/// request runs on a thread of its own (`offPool`), never on the cooperative pool.
enum HTTPTestClient {
    static func send(
        _ address: String, _ method: String, _ path: String, headers: [String: String] = [:], body: [UInt8]? = nil,
        timeout: Duration = .seconds(15)
    ) async throws -> HTTPReply {
        try await offPool("metro-test-http") {
            try exchange(address, method, path, headers, contentLength: body.map { Int64($0.count) }, timeout) {
                write in
                if let body { try write(body) }
            }
        }
    }

    static func json(
        _ address: String, _ method: String, _ path: String, _ object: Any, headers: [String: String] = [:],
        timeout: Duration = .seconds(15)
    ) async throws -> HTTPReply {
        let body = Array(try JSONSerialization.data(withJSONObject: object))
        return try await send(
            address, method, path, headers: headers.merging(["Content-Type": "application/json"]) { a, _ in a },
            body: body, timeout: timeout)
    }

    /// Sends `pieces` pieces of the body, each made by `piece(i)` just before it is
    /// written (the body never exists whole here either).
    static func stream(
        _ address: String, _ method: String, _ path: String, headers: [String: String], contentLength: Int64?,
        pieces: Int, piece: @escaping @Sendable (Int) -> [UInt8], timeout: Duration = .seconds(120)
    ) async throws -> HTTPReply {
        try await offPool("metro-test-http") {
            try exchange(address, method, path, headers, contentLength: contentLength, timeout) { write in
                for i in 0..<pieces { try write(piece(i)) }
            }
        }
    }

    /// A body in chunked transfer coding (no Content-Length), one chunk per piece:
    /// its length is known to the server only at its end.
    static func streamChunked(
        _ address: String, _ method: String, _ path: String, headers: [String: String], pieces: Int,
        piece: @escaping @Sendable (Int) -> [UInt8], timeout: Duration = .seconds(60)
    ) async throws -> HTTPReply {
        try await offPool("metro-test-http") {
            var headers = headers
            headers["Transfer-Encoding"] = "chunked"
            return try exchange(address, method, path, headers, contentLength: nil, timeout) { write in
                for i in 0..<pieces {
                    let bytes = piece(i)
                    try write(Array("\(String(bytes.count, radix: 16))\r\n".utf8) + bytes + [13, 10])
                }
                try write(Array("0\r\n\r\n".utf8))
            }
        }
    }

    /// A client that goes away mid-body: sends the head (with `Content-Length:
    /// contentLength`) and the first `bytes.count` bytes of the body, then closes.
    static func sendPartly(
        _ address: String, _ method: String, _ path: String, headers: [String: String], contentLength: Int64,
        bytes: [UInt8]
    ) async throws {
        try await offPool("metro-test-http") {
            let fd = try connect(address, .seconds(15))
            defer { close(fd) }
            var head = "\(method) \(path) HTTP/1.1\r\nHost: \(address)\r\nContent-Length: \(contentLength)\r\n"
            for (k, v) in headers { head += "\(k): \(v)\r\n" }
            let all = Array((head + "\r\n").utf8) + bytes
            var sent = 0
            while sent < all.count {
                let n = all[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                guard n > 0 else { throw WaitError.unexpected("send to \(address): errno \(errno)") }
                sent += n
            }
        }
    }

    /// Writes `request` as it is (bytes no `String` holds, e.g. a header that is not
    /// UTF-8) and reads the answer.
    static func raw(_ address: String, _ request: [UInt8], timeout: Duration = .seconds(15)) async throws -> HTTPReply {
        try await offPool("metro-test-http") {
            let fd = try connect(address, timeout)
            defer { close(fd) }
            var sent = 0
            while sent < request.count {
                let n = request[sent...].withUnsafeBytes {
                    Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
                }
                guard n > 0 else { throw WaitError.unexpected("send to \(address): errno \(errno)") }
                sent += n
            }
            var response: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n <= 0 { break }
                response += chunk[0..<n]
            }
            return try parse(response, address)
        }
    }

    private static func exchange(
        _ address: String, _ method: String, _ path: String, _ headers: [String: String], contentLength: Int64?,
        _ timeout: Duration, _ writeBody: ((([UInt8]) throws -> Void)) throws -> Void
    ) throws -> HTTPReply {
        let fd = try connect(address, timeout)
        defer { close(fd) }
        var head = "\(method) \(path) HTTP/1.1\r\nHost: \(address)\r\nConnection: close\r\n"
        for (k, v) in headers { head += "\(k): \(v)\r\n" }
        if let contentLength { head += "Content-Length: \(contentLength)\r\n" }
        head += "\r\n"
        func write(_ bytes: [UInt8]) throws {
            var sent = 0
            while sent < bytes.count {
                let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                guard n > 0 else { throw WaitError.unexpected("send to \(address): errno \(errno)") }
                sent += n
            }
        }
        try write(Array(head.utf8))
        // A server that answers early (413, 415) may close while the body is still
        // going out: then read what it said.
        do { try writeBody(write) } catch {}
        var response: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            response += chunk[0..<n]
        }
        return try parse(response, address)
    }

    private static func connect(_ address: String, _ timeout: Duration) throws -> Int32 {
        let parts = address.split(separator: ":")
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = UInt16(parts[1])!.bigEndian
        inet_pton(AF_INET, String(parts[0]), &addr.sin_addr)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard rc == 0 else {
            close(fd)
            throw WaitError.unexpected("connect \(address): errno \(errno)")
        }
        let ms = Int(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        var tv = timeval(tv_sec: ms / 1000, tv_usec: (ms % 1000) * 1000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        // A server that answered early and stopped reading the body (an upload refused
        // at its start) must not block the writer for ever: the send times out and the
        // answer is read.
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }

    private static func parse(_ bytes: [UInt8], _ address: String) throws -> HTTPReply {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let end = bytes.indices.dropLast(3).first(where: { Array(bytes[$0..<$0 + 4]) == separator }) else {
            throw WaitError.unexpected("no HTTP answer from \(address) (\(bytes.count) bytes)")
        }
        let lines = String(decoding: bytes[..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else {
            throw WaitError.unexpected("bad status line \(lines[0])")
        }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(
                in: .whitespaces)
        }
        var body = Array(bytes[(end + 4)...])
        if headers["transfer-encoding"] == "chunked" { body = dechunk(body) }
        return HTTPReply(status: status, headers: headers, body: body)
    }

    private static func dechunk(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var i = 0
        while i < bytes.count {
            guard let lineEnd = bytes[i...].firstIndex(of: 13),
                let size = Int(String(decoding: bytes[i..<lineEnd], as: UTF8.self), radix: 16),
                size > 0
            else { break }
            let start = lineEnd + 2
            out += bytes[start..<min(start + size, bytes.count)]
            i = start + size + 2
        }
        return out
    }
}

/// A real `metro gateway` against a test's broker and registry, on an ephemeral port.
final class GatewayUnderTest: Sendable {
    let process: MetroProcess
    /// `host:port` from the ready line.
    let address: String

    init(broker: BrokerHarness, registry: String, extra: [String] = []) async throws {
        let p = try MetroProcess(
            [
                "gateway", "--listen", "127.0.0.1:0", "--registry", registry, "--broker-events", broker.events,
                "--broker-ingest", broker.ingest, "--broker-consume", broker.consume, "--log-level", "warning",
            ] + extra)
        process = p
        let ready = try await p.waitUntilReady()
        guard let http = ready["http"] else { throw WaitError.unexpected("gateway ready line without http") }
        address = http
    }

    func get(_ path: String, headers: [String: String] = [:]) async throws -> HTTPReply {
        try await HTTPTestClient.send(address, "GET", path, headers: headers)
    }

    func post(_ path: String, _ object: Any, headers: [String: String] = [:]) async throws -> HTTPReply {
        try await HTTPTestClient.json(address, "POST", path, object, headers: headers)
    }

    func patch(_ path: String, _ object: Any, headers: [String: String] = [:]) async throws -> HTTPReply {
        try await HTTPTestClient.json(address, "PATCH", path, object, headers: headers)
    }
}
