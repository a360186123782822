import ArgumentParser

struct BrokerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "broker", abstract: "Run the Metro broker (issue 3: in progress).")
    func run() async throws { throw ValidationError("the broker is not built yet") }
}
