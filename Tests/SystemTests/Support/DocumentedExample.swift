import MetroTestSupport
import Foundation

/// Runs a ```python block of docs/protocol.md as a foreign client would: the
/// first block after `heading`, with the document's default endpoints replaced
/// by the ones a test's processes actually bound.
enum DocumentedExample {
    /// Whether `python3` on the PATH has pyzmq. CI installs it (`make setup`).
    static let pyzmqAvailable: Bool = {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", "import zmq"]
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return false }
        p.waitUntilExit()
        return p.terminationStatus == 0
    }()

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
        python.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        python.arguments = ["python3", "-c", source]
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
