import Foundation
import MetroTestSupport

/// Runs a ```python block of a document in docs/ (protocol.md unless told) as a
/// foreign client would: the first block after `heading`, with the document's
/// default endpoints replaced by the ones a test's processes actually bound.
package enum DocumentedExample {
    /// The python3 that has pyzmq: the one first on the PATH, else Debian's own
    /// (`apt-get install python3-zmq` installs into /usr/bin/python3, which a
    /// pyenv or venv first on the PATH does not see). nil when neither has it.
    /// Found once, by running `import zmq` under each (`ChildProcess`, awaited).
    package static var python: String? {
        get async { await found.value }
    }

    private static let found = Task<String?, Never> {
        for candidate in ["python3", "/usr/bin/python3"] {
            guard let probe = try? ChildProcess(URL(fileURLWithPath: "/usr/bin/env"), [candidate, "-c", "import zmq"])
            else { continue }
            if await probe.waitForExit(timeout: .seconds(30)) == 0 { return candidate }
        }
        return nil
    }

    /// Whether the pyzmq tests run, for the async condition trait
    /// `.enabled("needs python3 with pyzmq") { await DocumentedExample.pyzmqAvailable }`.
    /// `make test` installs python3-zmq and sets METRO_REQUIRE_PYZMQ=1, so there a
    /// missing pyzmq fails those tests (`Failed`) instead of skipping them quietly.
    package static var pyzmqAvailable: Bool {
        get async { await python != nil || ProcessInfo.processInfo.environment["METRO_REQUIRE_PYZMQ"] == "1" }
    }

    /// The example exited non-zero (or could not run); `stderr` says why.
    package struct Failed: Error, CustomStringConvertible {
        package let status: Int32
        package let stderr: String
        package var description: String { "the documented example exited \(status):\n\(stderr)" }
        package init(status: Int32, stderr: String) {
            self.status = status
            self.stderr = stderr
        }
    }

    /// The python source of the first block after `heading` in `docs/<document>`.
    package static func script(after heading: String, in document: String = "protocol.md") throws -> String {
        let url = ProtocolVectors.documentURL.deletingLastPathComponent().appendingPathComponent(document)
        let doc = try String(contentsOf: url, encoding: .utf8)
        guard let section = doc.range(of: heading),
            let start = doc.range(of: "```python\n", range: section.upperBound..<doc.endIndex),
            let end = doc.range(of: "```", range: start.upperBound..<doc.endIndex)
        else { throw WaitError.unexpected("no python block after \(heading)") }
        return String(doc[start.upperBound..<end.lowerBound])
    }

    /// Runs the block after `heading` with `replacing` applied and suspends until it
    /// exits (up to `timeout`); returns its stdout, throws `Failed` on a non-zero exit.
    package static func run(
        after heading: String, in document: String = "protocol.md", replacing: [String: String],
        timeout: Duration = .seconds(60)
    ) async throws -> String {
        var source = try script(after: heading, in: document)
        for (from, to) in replacing { source = source.replacingOccurrences(of: from, with: to) }
        guard let interpreter = await python else {
            throw Failed(status: -1, stderr: "no python3 with pyzmq (apt-get install python3-zmq)")
        }
        let child = try ChildProcess(URL(fileURLWithPath: "/usr/bin/env"), [interpreter, "-c", source])
        guard let status = await child.waitForExit(timeout: timeout) else {
            child.kill()
            throw Failed(status: -1, stderr: "still running after \(timeout):\n\(child.stderrText)")
        }
        guard status == 0 else { throw Failed(status: status, stderr: child.stderrText) }
        return child.stdoutText
    }
}
