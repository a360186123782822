package import Foundation

#if canImport(Glibc)
    import Glibc
#endif

// BenchSupport: what the benchmark executables share (they start real `metro`
// processes and read their ready lines, as the system tests' MetroProcess does).

/// A process of the bench (`metro broker|registry|worker`, or this binary as
/// `serve-echo`) that prints `ready {json}` once it serves, as the system tests'
/// MetroProcess expects. Standard error goes to a file, shown if it fails.
package final class ChildProcess: @unchecked Sendable {
    package let process = Process()
    package let name: String
    package let ready: [String: String]
    private let errorLog: String

    /// Starts `executable` and waits (up to 60 s) for its ready line.
    package init(_ name: String, _ executable: URL, _ arguments: [String]) throws {
        self.name = name
        let bench = URL(fileURLWithPath: CommandLine.arguments[0]).lastPathComponent
        errorLog = NSTemporaryDirectory() + "\(bench)-\(name)-\(UUID().uuidString).log"
        _ = FileManager.default.createFile(atPath: errorLog, contents: nil)
        process.executableURL = executable
        process.arguments = arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle(forWritingAtPath: errorLog) ?? FileHandle.nullDevice
        try process.run()
        var text = ""
        var line: Substring?
        while line == nil {
            let data = out.fileHandleForReading.availableData
            if data.isEmpty { break }
            text += String(decoding: data, as: UTF8.self)
            line = text.split(separator: "\n").first { $0.hasPrefix("ready ") }
        }
        guard let line,
            let obj = try JSONSerialization.jsonObject(with: Data(line.dropFirst(6).utf8)) as? [String: Any]
        else {
            let stderr = (try? String(contentsOfFile: errorLog, encoding: .utf8)) ?? ""
            throw BenchError("\(name) printed no ready line: \(text) \(stderr)")
        }
        ready = obj.mapValues { "\($0)" }
        // Keep reading stdout so that the child never blocks on a full pipe.
        let handle = out.fileHandleForReading
        Thread.detachNewThread {
            while !handle.availableData.isEmpty {}
        }
    }

    /// `metro <arguments>`, the binary next to this one.
    package static func metro(_ name: String, _ arguments: [String]) throws -> ChildProcess {
        try ChildProcess(name, here.appendingPathComponent("metro"), arguments + ["--log-level", "warning"])
    }

    package static let here = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()

    package var pid: Int32 { process.processIdentifier }

    /// User + system CPU seconds of the process so far (/proc/<pid>/stat fields 14 and 15).
    package var cpuSeconds: Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return 0 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        let ticks = (Double(fields[11]) ?? 0) + (Double(fields[12]) ?? 0)
        return ticks / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// SIGTERM, then SIGKILL after `grace`; waits until it is gone.
    package func stop(grace: TimeInterval = 20) {
        if process.isRunning { kill(pid, SIGTERM) }
        let deadline = Date().addingTimeInterval(grace)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning {
            print("(\(name) \(pid) ignored SIGTERM for \(Int(grace)) s: killed)")
            kill(pid, SIGKILL)
        }
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: errorLog)
    }
}

package struct BenchError: Error, CustomStringConvertible {
    package let description: String
    package init(_ description: String) { self.description = description }
}

/// The summed CPU seconds of `processes`.
package func cpuSeconds(_ processes: [ChildProcess]) -> Double { processes.reduce(0) { $0 + $1.cpuSeconds } }
