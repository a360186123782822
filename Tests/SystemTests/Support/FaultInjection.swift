import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A failing disk for a real broker: `FaultInjection/faultinject.c`, built once
/// per test run into a temporary folder and preloaded (`LD_PRELOAD`) into the
/// `metro` process. Faults are switched by flag files while the process runs (the
/// C file says which); only files whose path contains `pathFilter` are touched.
final class FaultInjection: @unchecked Sendable {
    let folder: TemporaryDirectory
    /// While this file exists, fsync/fdatasync of matching files fail with EIO.
    let syncFlag: String
    /// While this file exists, pwrite to matching files runs out of space (ENOSPC).
    let pwriteFlag: String
    /// While this file exists, read-only opens of matching files fail with EMFILE.
    let openFlag: String
    let pathFilter: String

    /// `pathFilter`: a substring of the paths to fail (".seg": journal data files).
    init(pathFilter: String) throws {
        folder = try TemporaryDirectory()
        syncFlag = folder.url.appendingPathComponent("sync-eio").path
        pwriteFlag = folder.url.appendingPathComponent("pwrite-enospc").path
        openFlag = folder.url.appendingPathComponent("open-emfile").path
        self.pathFilter = pathFilter
    }

    /// The environment that preloads the library into a `metro` process.
    var environment: [String: String] {
        get throws {
            [
                "LD_PRELOAD": try Self.library(), "METRO_FAULT_PATH": pathFilter,
                "METRO_FAULT_SYNC_EIO": syncFlag, "METRO_FAULT_PWRITE_ENOSPC": pwriteFlag,
                "METRO_FAULT_OPEN_EMFILE": openFlag,
            ]
        }
    }

    func failSyncs(_ on: Bool) { set(syncFlag, on) }
    func fillDisk(_ on: Bool) { set(pwriteFlag, on) }
    func refuseReadOpens(_ on: Bool) { set(openFlag, on) }

    private func set(_ flag: String, _ on: Bool) {
        if on {
            precondition(FileManager.default.createFile(atPath: flag, contents: nil))
        } else {
            try? FileManager.default.removeItem(atPath: flag)
        }
    }

    /// The built library's path (built on first use).
    static func library() throws -> String { try built.get() }

    private static let built: Result<String, Error> = Result { try build() }

    private static func build() throws -> String {
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("FaultInjection/faultinject.c").path
        let output = FileManager.default.temporaryDirectory
            .appendingPathComponent("metro-faultinject-\(getpid()).so").path
        let compiler = try compilerPath()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: compiler)
        process.arguments = ["-shared", "-fPIC", "-O1", "-Wall", "-o", output, source, "-ldl"]
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            throw FaultInjectionError.buildFailed(compiler: compiler, output: text)
        }
        return output
    }

    /// `CC`, else the `clang` next to `swift` on PATH (the toolchain's), else `cc`.
    private static func compilerPath() throws -> String {
        let env = ProcessInfo.processInfo.environment
        if let cc = env["CC"], FileManager.default.isExecutableFile(atPath: cc) { return cc }
        let path = (env["PATH"] ?? "/usr/bin").split(separator: ":").map(String.init)
        for dir in path where FileManager.default.isExecutableFile(atPath: dir + "/swift") {
            if FileManager.default.isExecutableFile(atPath: dir + "/clang") { return dir + "/clang" }
        }
        for name in ["clang", "cc", "gcc"] {
            for dir in path where FileManager.default.isExecutableFile(atPath: dir + "/" + name) {
                return dir + "/" + name
            }
        }
        throw FaultInjectionError.noCompiler
    }
}

enum FaultInjectionError: Error {
    case noCompiler
    case buildFailed(compiler: String, output: String)
}
