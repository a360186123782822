import ArgumentParser

struct RegistryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "registry", abstract: "Run the service registry (issue 5: in progress).")
    func run() async throws { throw ValidationError("the registry is not built yet") }
}
