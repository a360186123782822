import Foundation
import Logging
import MetroKit
import MetroProtocol
import MetroRuntime

#if canImport(Glibc)
    import Glibc
#endif

/// The system a run drives, started or attached to, and what undoes it: a
/// started `metro up` is stopped and its temporary data folder removed
/// (unless `--keep-data`); an attached system is left as it was.
struct SoakSetup: Sendable {
    let topology: SoakTopology
    let launcher: UpLauncher?
    let dataFolder: String
    let removeData: Bool
    /// The flag file that fills the broker's disk (start mode with `--chaos` only).
    let diskFullFlag: String?
    let upLog: String?
    /// The real clip (`--real-media`), made once with ffmpeg.
    let clip: [UInt8]?

    static let faultLibraryName = "libMetroFaultInject.so"

    static func make(options: SoakRunOptions, logger: Logger) async throws -> SoakSetup {
        let clip = options.realMedia ? try await makeClip(folder: options.outFolder) : nil
        if options.attach { return try await attach(options, clip: clip) }
        return try await start(options, clip: clip, logger: logger)
    }

    func tearDown() async {
        guard let launcher else { return }
        await launcher.stop(timeout: .seconds(40))
        if removeData { try? FileManager.default.removeItem(atPath: dataFolder) }
    }

    private static func start(_ options: SoakRunOptions, clip: [UInt8]?, logger: Logger) async throws -> SoakSetup {
        let temporary = options.dataDir == nil
        let data =
            options.dataDir
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("metro-soak-\(UUID().uuidString)").path
        var environment: [String: String] = [:]
        var flag: String?
        if options.chaos {
            let library = URL(fileURLWithPath: options.metroBinary).deletingLastPathComponent()
                .appendingPathComponent(faultLibraryName).path
            guard FileManager.default.fileExists(atPath: library) else {
                throw SoakSetupError(
                    "--chaos needs \(library) (the disk-full faults preload it): build it with `swift build` "
                        + "(or `--product MetroFaultInject`) next to this metro binary")
            }
            flag = data + "/soak-disk-full.flag"
            // The flag's content names the files that fail (ChaosMonkey writes ".seg" or a
            // service's database); METRO_FAULT_PATH is what an empty flag would mean.
            environment = [
                "LD_PRELOAD": library, "METRO_FAULT_PATH": ".seg", "METRO_FAULT_PWRITE_ENOSPC": flag!,
            ]
        }
        let ports = try freeLoopbackPorts(6)
        let launcher = try UpLauncher(
            .init(
                metroBinary: options.metroBinary, dataDir: data, logFolder: options.outFolder,
                ingest: options.ingest ?? "tcp://127.0.0.1:\(ports[0])",
                publish: options.publish ?? "tcp://127.0.0.1:\(ports[1])",
                events: options.events ?? "tcp://127.0.0.1:\(ports[2])",
                consume: options.consume ?? "tcp://127.0.0.1:\(ports[3])",
                registry: options.registry ?? "tcp://127.0.0.1:\(ports[4])",
                gateway: options.noGateway ? nil : (options.gateway ?? "127.0.0.1:\(ports[5])"),
                upArguments: options.upArguments + (options.secure ? ["--secure"] : []), environment: environment))
        logger.notice("started metro up (pid \(launcher.pid)); its log: \(launcher.logPath)")
        do {
            var topology = try await launcher.waitUntilReady(timeout: .seconds(120))
            // `metro up --secure` made the keys and the token secret before its ready line.
            if options.secure { topology.security = try await security(options, folder: data + "/keys") }
            return SoakSetup(
                topology: topology, launcher: launcher, dataFolder: data, removeData: temporary && !options.keepData,
                diskFullFlag: flag, upLog: launcher.logPath, clip: clip)
        } catch {
            await launcher.stop(timeout: .seconds(20))
            if temporary && !options.keepData { try? FileManager.default.removeItem(atPath: data) }
            throw error
        }
    }

    /// Endpoints from the flags (defaults: the standard ports), the instances
    /// as the registry lists them now, and the `metro up` found through /proc
    /// (required for `--chaos`: its children are the targets).
    private static func attach(_ options: SoakRunOptions, clip: [UInt8]?) async throws -> SoakSetup {
        let registryEndpoint = options.registry ?? "tcp://127.0.0.1:7400"
        let upPid = ProcTable.upProcess(registryEndpoint: registryEndpoint)
        if options.chaos && upPid == nil {
            throw SoakSetupError(
                "--chaos with --attach needs the system's processes: no `metro up` whose registry binds "
                    + "\(registryEndpoint) was found in /proc on this host. Run the soak on the host of that "
                    + "`metro up` (same user), or leave out --chaos.")
        }
        var security: SoakSecurity?
        if let folder = options.keysFolder { security = try await Self.security(options, folder: folder) }
        var configuration = RegistryClient.Configuration(endpoints: [registryEndpoint])
        configuration.curve = security?.registry
        let client = try RegistryClient(configuration: configuration)
        defer { Task { await client.close() } }
        let listed: [InstanceStatus]
        do {
            guard let answer = try await withDeadline(.seconds(10), { try await client.list() }) else {
                let why = options.silenceReason?(registryEndpoint, security != nil) ?? ""
                throw SoakSetupError("the registry at \(registryEndpoint) did not answer LIST within 10 s\(why)")
            }
            listed = answer
        } catch let error as SoakSetupError {
            throw error
        } catch {
            let why = options.silenceReason?(registryEndpoint, security != nil) ?? ""
            throw SoakSetupError("cannot list the registry at \(registryEndpoint): \(error)\(why)")
        }
        var topology = SoakTopology(
            ingest: options.ingest ?? "tcp://127.0.0.1:7701", publish: options.publish ?? "tcp://127.0.0.1:7702",
            events: options.events ?? "tcp://127.0.0.1:7703", consume: options.consume ?? "tcp://127.0.0.1:7704",
            registry: registryEndpoint, gateway: options.noGateway ? nil : (options.gateway ?? "127.0.0.1:8080"),
            instances: listed.filter { ["profiles", "video", "recommendations"].contains($0.service) }
                .map { SoakInstance(service: $0.service, instance: $0.instance) }, upPid: upPid)
        topology.security = security
        // Disk faults need the library preloaded when the system started: not in attach mode.
        return SoakSetup(
            topology: topology, launcher: nil, dataFolder: "(attached)", removeData: false, diskFullFlag: nil,
            upLog: nil, clip: clip)
    }

    /// The keys and token of a secure system's key folder, read by the `metro` binary's loader.
    private static func security(_ options: SoakRunOptions, folder: String) async throws -> SoakSecurity {
        guard let load = options.loadSecurity else {
            throw SoakSetupError("a secure soak needs a key loader (metro soak sets one)")
        }
        do {
            return try await load(folder)
        } catch {
            throw SoakSetupError("cannot read the secure system's keys in \(folder): \(error)")
        }
    }

    /// `n` free loopback TCP ports (bound to port 0, read, released).
    static func freeLoopbackPorts(_ n: Int) throws -> [Int] {
        var sockets: [Int32] = []
        defer { sockets.forEach { close($0) } }
        var ports: [Int] = []
        for _ in 0..<n {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw SoakSetupError("socket(): errno \(errno)") }
            sockets.append(fd)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = 0
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                    bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
                }
            }
            guard bound else { throw SoakSetupError("cannot bind a loopback port: errno \(errno)") }
            ports.append(Int(UInt16(bigEndian: address.sin_port)))
        }
        return ports
    }

    /// A 3-second H.264/AAC clip of lavfi's test card, made once per run.
    private static func makeClip(folder: String) async throws -> [UInt8] {
        let path = folder + "/soak-clip.mp4"
        let status = try await offThePool("metro-soak-ffmpeg") { () -> Int32 in
            let child = try ChildSpawn.spawn(
                "/usr/bin/env",
                [
                    "ffmpeg", "-y", "-loglevel", "error", "-f", "lavfi", "-i",
                    "testsrc=duration=3:size=320x240:rate=25", "-f", "lavfi", "-i", "sine=duration=3", "-c:v",
                    "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", path,
                ], stderr: .inherit)
            return ChildSpawn.waitAndReap(child.pid).code
        }
        guard status == 0, let data = FileManager.default.contents(atPath: path) else {
            throw SoakSetupError("--real-media: ffmpeg could not make a clip (status \(status)); is ffmpeg installed?")
        }
        return Array(data)
    }
}
