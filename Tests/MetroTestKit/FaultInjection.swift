import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A failing disk for a real broker: the `MetroFaultInject` library product
/// (Sources/MetroFaultInject/faultinject.c), which SwiftPM builds as
/// `libMetroFaultInject.so` next to the `metro` binary, preloaded (`LD_PRELOAD`)
/// into the `metro` process. Faults are switched by flag files while the process runs (the
/// C file says which); only files whose path contains `pathFilter` are touched.
package final class FaultInjection: Sendable {
    package let folder: TemporaryDirectory
    /// While this file exists, fsync/fdatasync of matching files fail with EIO.
    package let syncFlag: String
    /// While this file exists, pwrite and write to matching files run out of space (ENOSPC).
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

    /// The environment that preloads the library into a `metro` process.
    package var environment: [String: String] {
        get throws {
            [
                "LD_PRELOAD": try Self.library(), "METRO_FAULT_PATH": pathFilter,
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

    /// The built library: `libMetroFaultInject.so` beside the `metro` binary the
    /// tests run (`MetroProcess.binary`), built with it by `swift build`.
    package static func library() throws -> String {
        let path = MetroProcess.binary.deletingLastPathComponent().appendingPathComponent("libMetroFaultInject.so")
            .path
        guard FileManager.default.fileExists(atPath: path) else { throw FaultInjectionError.notBuilt(path: path) }
        return path
    }
}

/// Why the fault-injection library cannot be preloaded.
package enum FaultInjectionError: Error, CustomStringConvertible {
    /// The library product was not built (a `swift build --product metro` alone does not build it).
    case notBuilt(path: String)

    package var description: String {
        switch self {
        case .notBuilt(let path): "\(path) is missing: run `swift build` (it builds the MetroFaultInject product)"
        }
    }
}
