import Foundation

/// The path of this `metro` binary, for the children it starts (`metro up`'s
/// workers, `metro soak`'s `metro up`).
///
/// Not `CommandLine.arguments[0]`: run from `PATH` as `metro`, that is the bare
/// name, which `metro up` once resolved against the working directory
/// (`cannot run /tmp/x/metro`) so that it started nothing. `/proc/self/exe`
/// names the file the kernel ran; a binary rebuilt while it runs reads
/// `<path> (deleted)` there, and the new one at `<path>` is what a restart wants.
enum SelfExecutable {
    static var path: String {
        if var target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            let deleted = " (deleted)"
            if target.hasSuffix(deleted) { target.removeLast(deleted.count) }
            return target
        }
        let name = CommandLine.arguments[0]
        if name.contains("/") { return URL(fileURLWithPath: name).standardizedFileURL.path }
        // No /proc: the first executable `name` on PATH, as the shell found it.
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return name
    }
}
