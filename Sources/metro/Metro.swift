import ArgumentParser

/// `metro`: one binary for every Metro process and operator tool, like `consul`.
/// Each subcommand's file only parses arguments, bootstraps logging once, builds
/// the services and runs them.
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
        ]
    )
}

enum MetroVersion {
    static let string = "0.1.0"
}
