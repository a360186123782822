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
        version: MetroVersion.string,
        subcommands: [
            DoctorCommand.self,
            BrokerCommand.self,
            RegistryCommand.self,
            ServicesCommand.self,
            AnnounceCommand.self,
            UpCommand.self,
            ConsumeCommand.self,
            PublishCommand.self,
            TailCommand.self,
            TopCommand.self,
            DlqCommand.self,
            WorkerCommand.self,
            GatewayCommand.self,
            GatewayAuthCommand.self,
            SoakCommand.self,
            KeysCommand.self,
        ]
    )
}

enum MetroVersion {
    static let string = "0.1.0"
}
