import ArgumentParser

/// `metro`: one binary for every Metro process and operator tool, like `consul`.
/// Each subcommand's file only parses arguments, builds the services and runs
/// them; logging and metrics are bootstrapped once for all of them, before their
/// `run(_:)` (`MetroCommand`, Support/ProcessBootstrap.swift).
@main
struct Metro: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metro",
        abstract: "Metro: an event backbone for microservices on ZeroMQ.",
        discussion: """
            The three things most runs need, each one command:
              metro up --data-dir data                           start the whole system
              metro publish video.watched --example --count 20   publish test events
              metro soak --rate 300 --duration 10m --chaos       a soak test with faults
            The process subcommands run one part each; metro up runs them all.
            """,
        version: MetroVersion.string,
        groupedSubcommands: [
            CommandGroup(
                name: "Main",
                subcommands: [UpCommand.self, PublishCommand.self, SoakCommand.self, DoctorCommand.self]),
            CommandGroup(
                name: "Operator",
                subcommands: [
                    TailCommand.self, TopCommand.self, ServicesCommand.self, ConsumeCommand.self, DlqCommand.self,
                    BackupCommand.self,
                ]),
            CommandGroup(
                name: "Process",
                subcommands: [
                    BrokerCommand.self, RegistryCommand.self, WorkerCommand.self, GatewayCommand.self,
                    AnnounceCommand.self,
                ]),
            CommandGroup(name: "Security", subcommands: [KeysCommand.self, GatewayAuthCommand.self]),
        ]
    )
}

enum MetroVersion {
    static let string = "0.1.0"
}
