import Foundation

/// Where a system's data lives in its data folder (`metro up --data-dir`):
/// `broker/` (journal, groups' positions, seq reservation), `keys/` (a secure
/// system's), and one folder per service with its database at
/// `<service>/<service>.sqlite`, the service runtime's layout (MetroRuntime's
/// `ServiceStore`), for Metro's services and any service of your own.
enum DataFolderLayout {
    /// The services whose database is in `folder`: Metro's, in start order, then
    /// any other, by name.
    static func services(in folder: String) -> [String] {
        let found = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter {
            $0 != "broker" && $0 != "keys" && FileManager.default.fileExists(atPath: "\(folder)/\($0)/\($0).sqlite")
        }
        return SystemFile.serviceNames.filter(found.contains)
            + found.filter { !SystemFile.serviceNames.contains($0) }.sorted()
    }
}
