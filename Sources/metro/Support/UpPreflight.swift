import MetroBroker

/// Before `metro up` starts anything: its data folder can be made and written,
/// and every port the system will bind is free (the broker's four and its
/// metrics, the registry's, the gateway's), with
/// `metro doctor`'s checks (`DoctorPorts`), so each taken one is named with
/// what holds it: a running Metro or something else.
///
/// Without it, a second `metro up` on the same ports started the broker and
/// every worker, then stopped them all once the registry could not bind, with a
/// page of logs whose one useful line was the registry's `Address already in
/// use`. A port taken between this check and a child's bind still stops the
/// system that way (the supervisor's exit status 78 rule).
struct UpPreflight {
    let broker: BrokerConfiguration
    let registry: String
    /// `host:port` of the gateway's listener; "" when none starts.
    let gateway: String
    let configFile: String?
    /// The data folder every child writes under (`--data-dir`).
    var dataDir: String? = nil
    /// `metro up --metrics` and `--registry-metrics`, when given.
    var metricsListeners: [(name: String, listen: String, flag: String)] = []

    struct PortsTaken: Error, CustomStringConvertible {
        let lines: [String]
        let metroRunning: Bool
        var description: String {
            var text =
                "cannot start: a port this system needs is taken\n" + lines.map { "  " + $0 }.joined(separator: "\n")
            if metroRunning {
                text += """

                    Another Metro system runs on these ports: stop it (Ctrl-C where it runs, or kill -TERM its \
                    `metro up`), or give this one other ports (--config with other endpoints, --registry, --gateway).
                    """
            }
            return text
        }
    }

    /// The data folder cannot be made or written: every child would fail at its
    /// start and be restarted for good (seen: `--data-dir /proc/x`, 0.2 → 30 s
    /// backoffs with no end), so nothing starts.
    struct DataFolderUnusable: Error, CustomStringConvertible {
        let detail: String
        var description: String {
            "cannot start: the data folder is not usable: \(detail) (choose another with --data-dir)"
        }
    }

    func check() async throws {
        if let dataDir {
            let folder = DoctorCheck.dataFolderWritable(dataDir)
            guard folder.ok else { throw DataFolderUnusable(detail: folder.detail) }
        }
        // A secure system that runs on this data folder answers to its operator key.
        let keys = dataDir.flatMap { DoctorCommand.operatorKeys($0 + "/keys") }
        let checks = await DoctorPorts(
            broker: broker, registry: registry, configFile: configFile, gateway: gateway.isEmpty ? nil : gateway,
            keys: keys, metricsListeners: metricsListeners
        ).checks()
        let taken = checks.filter { !$0.ok || $0.warning }
        guard !taken.isEmpty else { return }
        throw PortsTaken(
            lines: taken.map { "\($0.name): \($0.detail)" },
            // A taken port only warns when a running Metro answered on it.
            metroRunning: taken.contains { $0.ok && $0.warning })
    }
}
