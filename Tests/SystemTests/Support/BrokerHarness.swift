import Foundation
import MetroKit
import MetroProtocol
import Synchronization
import ZeroMQ

#if canImport(Glibc)
    import Glibc
#endif

/// A real `metro broker` on loopback with ephemeral ports and its own data folder.
/// `restart()` starts a new process on the same endpoints and folder (after a
/// crash or a stop). The process is killed when the harness is released.
final class BrokerHarness: @unchecked Sendable {
    let dataDir: TemporaryDirectory
    private(set) var process: MetroProcess
    private(set) var endpoints: [String: String]
    let extraArguments: [String]
    let shell: String?
    /// Extra environment of every process started (e.g. `FaultInjection.environment`).
    let environment: [String: String]

    var ingest: String { endpoints["ingest"]! }
    var publish: String { endpoints["publish"]! }
    var events: String { endpoints["events"]! }
    var consume: String { endpoints["consume"]! }

    /// `config`: YAML written to a file and passed with `--config` (for limits).
    /// `shell`: run by /bin/sh before metro (`MetroProcess`), e.g. `ulimit -n 64`.
    init(
        config: String? = nil, arguments: [String] = [], shell: String? = nil, environment: [String: String] = [:]
    ) throws {
        self.shell = shell
        self.environment = environment
        dataDir = try TemporaryDirectory()
        var extra = arguments
        if let config {
            let path = dataDir.url.appendingPathComponent("broker.yaml").path
            try config.write(toFile: path, atomically: true, encoding: .utf8)
            extra += ["--config", path]
        }
        extraArguments = extra
        let journal = dataDir.url.appendingPathComponent("journal").path
        process = try MetroProcess(
            [
                "broker", "--ingest", "tcp://127.0.0.1:*", "--publish", "tcp://127.0.0.1:*",
                "--events", "tcp://127.0.0.1:*", "--consume", "tcp://127.0.0.1:*", "--metrics", "127.0.0.1:0",
                "--data-dir", journal,
            ] + extra, environment: environment, shell: shell)
        endpoints = try process.waitUntilReady()
    }

    var journalPath: String { dataDir.url.appendingPathComponent("journal").path }

    /// Starts the broker again on the same endpoints and data folder, with
    /// `environment` instead of the first start's when given.
    func restart(environment: [String: String]? = nil) throws {
        process = try MetroProcess(
            [
                "broker", "--ingest", ingest, "--publish", publish, "--events", events, "--consume", consume,
                "--metrics", "127.0.0.1:0", "--data-dir", journalPath,
            ] + extraArguments, environment: environment ?? self.environment, shell: shell)
        endpoints = try process.waitUntilReady()
    }

    func kill9() {
        process.kill(SIGKILL)
        process.waitForExit()
    }

    /// SIGTERM and wait: a graceful stop that flushes the journal.
    @discardableResult
    func stop() -> Int32? {
        process.kill(SIGTERM)
        return process.waitForExit(timeout: .seconds(20))
    }

    func stats() throws -> BrokerStats {
        let frames = try request(on: consume, ConsumeCodec.requestFrames(.stats))
        return try JSONDecoder().decode(BrokerStats.self, from: Data(frames[2]))
    }

    /// The broker's open descriptors now (entries of /proc/<pid>/fd).
    func openDescriptors() throws -> Int {
        try FileManager.default.contentsOfDirectory(atPath: "/proc/\(process.pid)/fd").count
    }

    /// The broker's open-files limit (soft, hard) from /proc/<pid>/limits.
    func openFilesLimit() throws -> (soft: UInt64, hard: UInt64) {
        let limits = try String(contentsOfFile: "/proc/\(process.pid)/limits", encoding: .utf8)
        guard let line = limits.split(separator: "\n").first(where: { $0.hasPrefix("Max open files") }) else {
            throw WaitError.timedOut("no open files limit in /proc/\(process.pid)/limits")
        }
        let numbers = line.split(separator: " ").compactMap { UInt64($0) }
        return (numbers[0], numbers[1])
    }

    /// The broker's resident memory, in bytes (from /proc).
    func residentBytes() throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(process.pid)/status", encoding: .utf8)
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }!
        return Int(line.split(separator: " ")[1])! * 1024
    }
}

let testContext = try! Context(ioThreads: 1, defaultLingerMilliseconds: 0)

/// One request/reply over a fresh DEALER, waiting up to 5 s.
func request(on endpoint: String, _ frames: [[UInt8]]) throws -> [[UInt8]] {
    let s = try testContext.socket(.dealer)
    defer { s.close() }
    try s.set(.receiveTimeout(milliseconds: 5000))
    try s.connect(endpoint)
    try s.send(multipart: frames)
    guard let reply = try s.receiveMultipart() else { throw WaitError.timedOut("reply from \(endpoint)") }
    return reply
}

/// Like `eventually`, running `action` before each check (e.g. publish until seen).
func eventually(
    _ what: String, timeout: Duration = .seconds(30), _ condition: () throws -> Bool,
    while action: () async throws -> Void
) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        try await action()
        if try condition() { return }
        try await Task.sleep(for: .milliseconds(20))
    }
    throw WaitError.timedOut(what)
}

/// A minimal HTTP/1.0 GET over a plain TCP socket (`host:port`); returns the whole response.
func httpGet(_ address: String, path: String) throws -> String {
    try tcpExchange(address, Array("GET \(path) HTTP/1.0\r\n\r\n".utf8))
}

/// Sends `request` over a new TCP connection to `host:port`, half-closes, and
/// returns everything received until the peer closes (or 5 s pass).
func tcpExchange(_ address: String, _ request: [UInt8]) throws -> String {
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
    guard rc == 0 else { throw WaitError.timedOut("connect \(address)") }
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

/// A value shared between test tasks, behind a lock.
final class Locked<T: Sendable>: Sendable {
    private let mutex: Mutex<T>
    init(_ value: T) { mutex = Mutex(value) }
    func withLock<R: Sendable>(_ body: (inout T) -> R) -> R { mutex.withLock { body(&$0) } }
}

/// A live subscriber whose events a test reads back: subscribed to `prefixes`,
/// live (its hello seen, §4.4.2) before `init` returns, collecting from then on.
final class LiveCollector: Sendable {
    let subscriber: Subscriber
    /// The head seq when the subscription became live: later events all arrive.
    let liveFrom: UInt64
    private let received = Locked([LiveEvent]())
    private let task: Task<Void, Never>

    init(events: String, prefixes: [String]) async throws {
        subscriber = try Subscriber(.init(events: events, prefixes: prefixes))
        liveFrom = try await subscriber.waitUntilLive()
        let stream = subscriber.events
        let received = self.received
        task = Task { for await e in stream { received.withLock { $0.append(e) } } }
    }

    /// Everything received so far, in order.
    var events: [LiveEvent] { received.withLock { $0 } }

    func close() async {
        task.cancel()
        await subscriber.close()
    }
}
