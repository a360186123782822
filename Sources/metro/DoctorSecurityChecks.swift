import Foundation
import MetroSecurity
import ZeroMQ

/// The doctor's check of a secure system's key folder (`metro up --secure`,
/// protocol.md §7.10): that its allow-list parses, and that each of the system's
/// identities in it holds the grants this version of Metro needs
/// (`SecureSystem.permissions`). An allow-list is written once and never
/// rewritten, so one written by an older version lacks what newer code uses: the
/// video worker's `consume` of `$metro.dead.video-processing` (its dead-letter
/// handler) is refused by the broker, and the worker only logs it. Here an
/// operator sees it before the logs do, with the lines to add.
extension DoctorCheck {
    static func allowList(keys directory: String) -> DoctorCheck {
        let path = (directory as NSString).appendingPathComponent(SecureSystem.allowListName)
        let file: AllowList
        do {
            file = try AllowList.load(path)
        } catch {
            return DoctorCheck(name: "allow-list", ok: false, detail: "\(error)")
        }
        let missing = missingGrants(in: file)
        guard !missing.isEmpty else {
            return DoctorCheck(
                name: "allow-list", ok: true,
                detail: "\(path): \(file.identities.count) identities; the system's have what this version needs")
        }
        let lines = missing.map { "\($0.identity): \($0.grants.joined(separator: ", "))" }
        return DoctorCheck(
            name: "allow-list", ok: true,
            detail:
                "\(path) lacks grants this version uses (the servers refuse them): \(lines.joined(separator: "; ")). "
                + "Add them to the identities' permissions and kill -HUP the broker, the registry and the workers",
            warning: true)
    }

    /// Per identity of the system present in `file`, the grants of
    /// `SecureSystem.permissions` it lacks, as `action prefix` (`register name`).
    static func missingGrants(in file: AllowList) -> [(identity: String, grants: [String])] {
        let needed = neededPermissions()
        var result: [(String, [String])] = []
        for name in needed.keys.sorted() {
            guard let need = needed[name], file.identities.contains(where: { $0.name == name }) else { continue }
            let have = file.permissions(of: name)
            var grants: [String] = []
            for action in Permissions.Action.allCases where action != .register {
                for prefix in need.prefixes(action) where !have.allows(action, prefix) {
                    grants.append("\(action.rawValue) \(String(decoding: prefix, as: UTF8.self))")
                }
            }
            for service in need.register where !have.mayRegister(service) { grants.append("register \(service)") }
            if !grants.isEmpty { result.append((name, grants)) }
        }
        return result
    }

    /// `SecureSystem.permissions` read by the allow-list's own parser (through a
    /// document of throwaway keys), so both sides mean the same thing.
    private static func neededPermissions() -> [String: Permissions] {
        let names = SecureSystem.permissions.keys.sorted()
        let identities = names.compactMap { name in (try? CurveKeyPair.generate()).map { (name, $0.publicKey) } }
        guard let parsed = try? AllowList.parse(SecureSystem.allowListText(identities)) else { return [:] }
        return Dictionary(uniqueKeysWithValues: names.map { ($0, parsed.permissions(of: $0)) })
    }
}
