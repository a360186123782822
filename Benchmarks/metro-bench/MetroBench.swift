import ArgumentParser

/// `metro-bench`: benchmarks that live outside the test suite. Each subcommand
/// runs Metro's code and a libzmq baseline in the same run and prints a table
/// with their ratio. Run in release mode: `make bench`.
@main
struct MetroBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metro-bench",
        abstract: "Metro benchmarks (always with a libzmq baseline in the same run).",
        subcommands: [WrapperBenchmark.self]
    )
}
