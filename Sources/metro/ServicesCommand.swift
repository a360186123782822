import ArgumentParser

struct ServicesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "services", abstract: "Show the registry's view (issue 5: in progress).")
    func run() async throws { throw ValidationError("the registry is not built yet") }
}
