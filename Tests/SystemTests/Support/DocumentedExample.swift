import Foundation
import MetroTestSupport

/// Runs a ```python block of docs/protocol.md as a foreign client would: the
/// first block after `heading`, with the document's default endpoints replaced
/// by the ones a test's processes actually bound.
enum DocumentedExample {
    /// The python3 that has pyzmq: the one first on the PATH, else Debian's own
    /// (`apt-get install python3-zmq` installs into /usr/bin/python3, which a
    /// pyenv or venv first on the PATH does not see). nil when neither has it.
    static let python: String? = {
        for candidate in ["python3", "/usr/bin/python3"] {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = [candidate, "-c", "import zmq"]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            guard (try? p.run()) != nil else { continue }
            p.waitUntilExit()
            if p.terminationStatus == 0 { return candidate }
        }
        return nil
    }()

    /// Whether the pyzmq tests run. `make test` installs python3-zmq and sets
    /// METRO_REQUIRE_PYZMQ=1, so there a missing pyzmq fails those tests
    /// (`Failed`) instead of skipping them quietly.
    static let pyzmqAvailable: Bool =
        python != nil || ProcessInfo.processInfo.environment["METRO_REQUIRE_PYZMQ"] == "1"

    struct Failed: Error, CustomStringConvertible {
        let status: Int32
        let stderr: String
        var description: String { "the documented example exited \(status):\n\(stderr)" }
    }

    /// The python source of the first block after `heading`.
    static func script(after heading: String) throws -> String {
        let doc = try String(contentsOf: ProtocolVectors.documentURL, encoding: .utf8)
        guard let section = doc.range(of: heading),
            let start = doc.range(of: "```python\n", range: section.upperBound..<doc.endIndex),
            let end = doc.range(of: "```", range: start.upperBound..<doc.endIndex)
        else { throw WaitError.timedOut("no python block after \(heading)") }
        return String(doc[start.upperBound..<end.lowerBound])
    }

    /// Runs the block after `heading` with `replacing` applied; returns its stdout.
    static func run(after heading: String, replacing: [String: String]) throws -> String {
        var source = try script(after: heading)
        for (from, to) in replacing { source = source.replacingOccurrences(of: from, with: to) }
        let python = Process()
        guard let interpreter = Self.python else {
            throw Failed(status: -1, stderr: "no python3 with pyzmq (apt-get install python3-zmq)")
        }
        python.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        python.arguments = [interpreter, "-c", source]
        let out = Pipe(), err = Pipe()
        python.standardOutput = out
        python.standardError = err
        try python.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let errors = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        python.waitUntilExit()
        guard python.terminationStatus == 0 else { throw Failed(status: python.terminationStatus, stderr: errors) }
        return text
    }
}
