import ArgumentParser

struct DoctorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "doctor", abstract: "Check this machine for running Metro.")
    func run() async throws { print("doctor: to do") }
}
