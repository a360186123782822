import ArgumentParser
import Foundation
import MetroBroker
import MetroSecurity
import ZeroMQ

/// `metro doctor`: checks that this machine can run Metro, and says how to fix
/// what it finds. Exit status 0 when every check passes, 1 otherwise.
struct DoctorCommand: MetroCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract:
            "Check this machine for running Metro: libzmq, CURVE, vCPU idle and steal, ports (broker, metrics, registry, gateway), data folder, service databases, a secure system's allow-list."
    )

    @Option(help: "The broker configuration file (default: Broker/broker.yaml if present).")
    var config: String?

    @Option(help: "Override the data folder to check.")
    var dataDir: String?

    @Option(help: "The registry endpoint to check (the one metro up binds).")
    var registry = "tcp://127.0.0.1:7400"

    @Option(help: "The gateway's HTTP address to check (host:port; \"\" skips it).")
    var gateway = "127.0.0.1:8080"

    @Option(
        help: ArgumentHelp(
            "A secure system's key folder: its allow-list is checked (default: $METRO_KEYS, else <data-dir>/keys if it exists).",
            valueName: "dir"))
    var keys: String?

    @Flag(help: "Print the results as JSON.")
    var json = false

    @OptionGroup var global: GlobalOptions

    func run(_ process: ProcessBootstrap) async throws {
        var checks: [DoctorCheck] = []
        checks.append(DoctorCheck.libraryVersion())
        checks.append(DoctorCheck.curve())
        checks.append(DoctorCheck.vcpuIdle())
        checks.append(DoctorCheck.cpuSteal())
        checks.append(DoctorCheck.openFiles())
        checks.append(await DoctorCheck.mediaTools())
        do {
            let (broker, source) = try ConfigurationFile.loadBroker(config)
            checks.append(
                DoctorCheck(
                    name: "configuration", ok: true,
                    detail: source.map { "read \($0)" } ?? "no file; using built-in defaults"))
            checks += await DoctorPorts(
                broker: broker, registry: registry, configFile: source, gateway: gateway.isEmpty ? nil : gateway,
                keys: keysFolder.flatMap(Self.operatorKeys)
            ).checks()
            checks.append(DoctorCheck.dataFolderWritable(dataDir ?? broker.dataDir))
            checks.append(DoctorCheck.diskSpace(dataDir ?? broker.dataDir))
            checks += DoctorDatabases.checks(dataFolder: dataDir ?? broker.dataDir)
            if let system = DoctorSystemCheck.check(dataFolder: dataDir ?? broker.dataDir) { checks.append(system) }
        } catch {
            checks.append(DoctorCheck(name: "configuration", ok: false, detail: "\(error)"))
        }
        if let folder = keysFolder { checks.append(DoctorCheck.allowList(keys: folder)) }

        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(checks), as: UTF8.self))
        } else {
            let width = max(18, checks.map(\.name.count).max() ?? 0)
            for check in checks {
                print(
                    "\(check.label) \(check.name.padding(toLength: width, withPad: " ", startingAt: 0)) \(check.detail)"
                )
            }
        }
        if checks.contains(where: { !$0.ok }) { throw ExitCode(1) }
    }

    /// The operator's identity (`cli.key`) in a secure system's key folder, to ask
    /// its broker and registry who they are; nil when the folder lacks it.
    static func operatorKeys(_ folder: String) -> ClientKeys? {
        let path = { (name: String) in (folder as NSString).appendingPathComponent(name) }
        guard Capability.curve.isAvailable, let keys = try? KeyFiles.loadSecret(path("cli.key")),
            let broker = try? KeyFiles.loadPublic(path("broker.pub")),
            let registry = try? KeyFiles.loadPublic(path("registry.pub"))
        else { return nil }
        return ClientKeys(
            directory: folder, identity: "cli", keys: keys, brokerPublicKey: broker, registryPublicKey: registry)
    }

    /// `--keys`, else `$METRO_KEYS`, else `<data-dir>/keys` (default `data/keys`) when `metro up --secure` made it.
    private var keysFolder: String? {
        if let keys { return keys }
        if let fromEnvironment = ProcessInfo.processInfo.environment["METRO_KEYS"], !fromEnvironment.isEmpty {
            return fromEnvironment
        }
        var isFolder: ObjCBool = false
        let fallback = (dataDir ?? "data") + "/keys"
        return FileManager.default.fileExists(atPath: fallback, isDirectory: &isFolder) && isFolder.boolValue
            ? fallback : nil
    }
}

struct DoctorCheck: Encodable {
    let name: String
    /// False fails the doctor (exit status 1).
    let ok: Bool
    let detail: String
    /// Passes, but costs something worth fixing (printed as `warn`).
    var warning = false

    var label: String { !ok ? "FAIL" : warning ? "warn" : "ok  " }

    static func libraryVersion() -> DoctorCheck {
        let v = LibraryVersion.current
        let ok = v >= LibraryVersion(major: 4, minor: 3, patch: 0)
        return DoctorCheck(
            name: "libzmq", ok: ok,
            detail: ok
                ? "version \(v)" : "version \(v) is too old: Metro needs 4.3 or newer (apt-get install libzmq3-dev)")
    }

    static func curve() -> DoctorCheck {
        let ok = Capability.curve.isAvailable
        return DoctorCheck(
            name: "curve", ok: ok,
            detail: ok
                ? "CURVE encryption is available"
                : "this libzmq was built without CURVE (libsodium/tweetnacl): encrypted endpoints cannot work")
    }

    /// A port is free if a ZeroMQ socket can bind it right now (then it is released).
    /// When it is taken, `owner` names a running Metro that holds it (a warning), or
    /// nil: something else holds it (a failure).
    static func endpointFree(
        name: String, endpoint: String, configFile: String?, fix customFix: String? = nil,
        owner: () -> String? = { nil }, stranger: () -> String? = { nil }
    ) -> DoctorCheck {
        let label = "port \(name)"
        let fix =
            "stop the process that holds it, "
            + (customFix ?? "or change endpoints.\(name) in \(configFile ?? "Broker/broker.yaml")")
        guard endpoint.hasPrefix("tcp://") || endpoint.hasPrefix("ipc://") || endpoint.hasPrefix("inproc://") else {
            return DoctorCheck(name: label, ok: false, detail: "\(endpoint) is not a ZeroMQ endpoint (tcp://host:port)")
        }
        do {
            let ctx = try Context(defaultLingerMilliseconds: 0)
            let socket = try ctx.socket(.rep)
            let bound = try socket.bindResolved(endpoint)
            try socket.unbind(bound)
            socket.close()
            return DoctorCheck(name: label, ok: true, detail: "\(endpoint) is free")
        } catch {
            switch error.code {
            case .addressInUse:
                if let owner = owner() {
                    return DoctorCheck(
                        name: label, ok: true, detail: "\(endpoint) is in use by \(owner)", warning: true)
                }
                let holder = stranger() ?? "something else (not Metro)"
                return DoctorCheck(name: label, ok: false, detail: "\(endpoint) is taken by \(holder): \(fix)")
            case .addressNotAvailable, .noSuchDevice:
                return DoctorCheck(
                    name: label, ok: false, detail: "\(endpoint) names an address this host does not have: \(fix)")
            default:
                return DoctorCheck(name: label, ok: false, detail: "\(endpoint) cannot be bound: \(error.message)")
            }
        }
    }

    /// The data folder exists (or can be made) and takes a write and an fsync.
    static func dataFolderWritable(_ path: String) -> DoctorCheck {
        let fm = FileManager.default
        do {
            try fm.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            // Foundation's text ("The operation could not be completed.") says little:
            // mkdir's own errno says why (ENOENT, EACCES, EROFS, ENOSPC).
            let reason = mkdir(path, 0o755) == 0 ? error.localizedDescription : String(cString: strerror(errno))
            return DoctorCheck(name: "data folder", ok: false, detail: "cannot create \(path): \(reason)")
        }
        let probe = (path as NSString).appendingPathComponent(".metro-doctor-\(getpid())")
        let fd = open(probe, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            return DoctorCheck(
                name: "data folder", ok: false, detail: "\(path) is not writable: \(String(cString: strerror(errno)))")
        }
        defer { close(fd); unlink(probe) }
        let wrote = "metro".withCString { write(fd, $0, 5) }
        guard wrote == 5, fsync(fd) == 0 else {
            return DoctorCheck(
                name: "data folder", ok: false,
                detail: "\(path): write or fsync failed: \(String(cString: strerror(errno)))")
        }
        return DoctorCheck(name: "data folder", ok: true, detail: "\(path) is writable (write + fsync)")
    }
}
