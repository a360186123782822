import Foundation
import Synchronization

/// A supervised child's stdout and stderr, passed on line by line with the
/// child's name in front (`broker | ...`; the name coloured on a terminal), so
/// that the interleaved logs of `metro up` say who wrote what. The child's
/// `ready {json}` line is taken out and handed to `onReady` instead: `metro up`
/// prints one ready line for the whole system (docs/operations.md).
///
/// Threading: each stream is read with blocking reads on a thread of its own
/// (not a libdispatch read source: tearing those down while others are set up
/// crashed a test process, Tests/MetroTestKit/ChildProcess.swift); each stream's
/// partial line is kept under a lock, and each whole line is written with one
/// `write` so lines of different children never mix.
final class ChildOutput: Sendable {
    private let name: String
    /// `--log-format json`: lines pass on as JSON objects carrying `"process"` (`JSONLogLine.fromChild`).
    private let json: Bool
    private let onReady: @Sendable ([String: String]) -> Void
    private let pending = Mutex<(out: [UInt8], err: [UInt8])>(([], []))
    /// The last non-empty line the child wrote to stderr, and how many of its two streams reached their end.
    private let tail = Mutex<(lastError: String?, streamsEnded: Int)>((nil, 0))

    init(name: String, json: Bool = false, onReady: @escaping @Sendable ([String: String]) -> Void) {
        self.name = name
        self.json = json
        self.onReady = onReady
    }

    /// Reads the read ends of the child's stdout and stderr pipes until end of file
    /// (the child and whatever inherited them are gone), then closes them.
    func start(stdout: Int32, stderr: Int32) {
        for (fd, isStdout) in [(stdout, true), (stderr, false)] {
            let thread = Thread { [self] in
                var buffer = [UInt8](repeating: 0, count: 64 * 1024)
                while true {
                    let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                    if n > 0 {
                        take(buffer[0..<n], isStdout: isStdout)
                    } else if n < 0 && errno == EINTR {
                        continue
                    } else {
                        close(fd)
                        tail.withLock { $0.streamsEnded += 1 }
                        return
                    }
                }
            }
            thread.name = "metro-up-output"
            thread.start()
        }
    }

    /// After the child exited: passes on a last line that had no newline.
    func finish() {
        let rest = pending.withLock { state in
            defer { state = ([], []) }
            return state
        }
        if !rest.out.isEmpty { emit(rest.out, isStdout: true) }
        if !rest.err.isEmpty { emit(rest.err, isStdout: false) }
    }

    /// The last non-empty line the child wrote to stderr (what a failed start said last).
    var lastErrorLine: String? { tail.withLock { $0.lastError } }

    /// Waits until both streams reached their end (every line is passed on) or `limit` passed:
    /// a grandchild holding the pipes would keep them open.
    func ended(within limit: Duration) async {
        let deadline = ContinuousClock.now + limit
        while tail.withLock({ $0.streamsEnded < 2 }) && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        finish()
    }

    private func take(_ data: ArraySlice<UInt8>, isStdout: Bool) {
        guard !data.isEmpty else { return }
        let lines: [[UInt8]] = pending.withLock { state in
            var buffer = isStdout ? state.out : state.err
            buffer.append(contentsOf: data)
            var lines: [[UInt8]] = []
            while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                lines.append(Array(buffer[..<newline]))
                buffer.removeSubrange(...newline)
            }
            if isStdout { state.out = buffer } else { state.err = buffer }
            return lines
        }
        for line in lines { emit(line, isStdout: isStdout) }
    }

    private func emit(_ line: [UInt8], isStdout: Bool) {
        let text = String(decoding: line, as: UTF8.self)
        if !isStdout && !text.allSatisfy(\.isWhitespace) {
            let words = json ? JSONLogLine.message(of: text) ?? text : text
            tail.withLock { $0.lastError = words }
        }
        if isStdout, text.hasPrefix("ready "), let fields = Self.readyFields(text) {
            onReady(fields)
            return
        }
        let fd: Int32 = isStdout ? 1 : 2
        if json {
            let bytes = Array((JSONLogLine.fromChild(text, process: name, stdout: isStdout) + "\n").utf8)
            bytes.withUnsafeBytes { _ = write(fd, $0.baseAddress, $0.count) }
            return
        }
        let label = isatty(fd) == 1 ? "\u{1B}[\(Self.colour(name))m\(name)\u{1B}[0m" : name
        let bytes = Array("\(label) | \(text)\n".utf8)
        bytes.withUnsafeBytes { _ = write(fd, $0.baseAddress, $0.count) }
    }

    static func readyFields(_ line: String) -> [String: String]? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8.dropFirst(6))) as? [String: Any]
        else { return nil }
        return object.mapValues { "\($0)" }
    }

    /// A stable ANSI colour per name (31–36).
    private static func colour(_ name: String) -> Int {
        31 + Int(name.utf8.reduce(0) { ($0 &* 31 &+ UInt32($1)) % 6 })
    }
}
