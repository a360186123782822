import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A failing disk for a real broker: `FaultInjection/faultinject.c`, built once
/// per test run into a temporary folder and preloaded (`LD_PRELOAD`) into the
/// `metro` process. Faults are switched by flag files while the process runs (the
/// C file says which); only files whose path contains `pathFilter` are touched.
package final class FaultInjection: Sendable {
    package let folder: TemporaryDirectory
    /// While this file exists, fsync/fdatasync of matching files fail with EIO.
    package let syncFlag: String
    /// While this file exists, pwrite to matching files runs out of space (ENOSPC).
    package let pwriteFlag: String
    /// While this file exists, read-only opens of matching files fail with EMFILE.
    package let openFlag: String
    package let pathFilter: String

    /// `pathFilter`: a substring of the paths to fail (".seg": journal data files).
    package init(pathFilter: String) throws {
        folder = try TemporaryDirectory()
        syncFlag = folder.url.appendingPathComponent("sync-eio").path
        pwriteFlag = folder.url.appendingPathComponent("pwrite-enospc").path
        openFlag = folder.url.appendingPathComponent("open-emfile").path
        self.pathFilter = pathFilter
    }

    /// The environment that preloads the library into a `metro` process (builds
    /// the library on first use, awaiting the compiler).
    package var environment: [String: String] {
        get async throws {
            [
                "LD_PRELOAD": try await Self.library(), "METRO_FAULT_PATH": pathFilter,
                "METRO_FAULT_SYNC_EIO": syncFlag, "METRO_FAULT_PWRITE_ENOSPC": pwriteFlag,
                "METRO_FAULT_OPEN_EMFILE": openFlag,
            ]
        }
    }

    package func failSyncs(_ on: Bool) { set(syncFlag, on) }
    package func fillDisk(_ on: Bool) { set(pwriteFlag, on) }
    package func refuseReadOpens(_ on: Bool) { set(openFlag, on) }

    private func set(_ flag: String, _ on: Bool) {
        if on {
            precondition(FileManager.default.createFile(atPath: flag, contents: nil))
        } else {
            try? FileManager.default.removeItem(atPath: flag)
        }
    }

    /// The built library's path (built on first use, once per process).
    package static func library() async throws -> String { try await built.value }

    private static let built = Task<String, any Error> { try await build() }

    /// Compiles faultinject.c, found next to this file (`#filePath`: the kit runs
    /// from a build of this checkout), into the temporary folder.
    private static func build() async throws -> String {
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("FaultInjection/faultinject.c").path
        let output = FileManager.default.temporaryDirectory
            .appendingPathComponent("metro-faultinject-\(getpid()).so").path
        let compiler = try compilerPath()
        let cc = try ChildProcess(
            URL(fileURLWithPath: compiler), ["-shared", "-fPIC", "-O1", "-Wall", "-o", output, source, "-ldl"])
        let status = await cc.waitForExit(timeout: .seconds(120))
        guard status == 0 else {
            throw FaultInjectionError.buildFailed(
                compiler: compiler, output: status == nil ? "timed out" : cc.stderrText)
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

/// Why the fault-injection library could not be built.
package enum FaultInjectionError: Error {
    case noCompiler
    case buildFailed(compiler: String, output: String)
}
