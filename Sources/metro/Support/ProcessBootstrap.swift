public import ArgumentParser
import Foundation
import Logging
import Metrics
import Prometheus
import ZeroMQ

/// The options every `metro` subcommand takes (`@OptionGroup var global: GlobalOptions`).
struct GlobalOptions: ParsableArguments {
    @Option(help: "Log level (trace, debug, info, notice, warning, error, critical); logs go to stderr.")
    var logLevel: Logger.Level = .info
    @Option(help: "Log format on stderr: text, or json (one object per line); default $METRO_LOG_FORMAT, else text.")
    var logFormat: LogFormat?

    /// `--log-format`, else `$METRO_LOG_FORMAT` (an unknown value: text), else text.
    var resolvedLogFormat: LogFormat {
        logFormat ?? ProcessInfo.processInfo.environment["METRO_LOG_FORMAT"].flatMap(LogFormat.init(rawValue:))
            ?? .text
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// A `metro` subcommand. Its `run()` is this protocol's: it bootstraps the
/// process (logging and metrics, `ProcessBootstrap`) exactly once and then calls
/// `run(_:)` with what that made, so no subcommand can forget it or do it twice
/// (swift-log and swift-metrics trap on a second bootstrap).
protocol MetroCommand: AsyncParsableCommand {
    var global: GlobalOptions { get }
    func run(_ process: ProcessBootstrap) async throws
}

extension MetroCommand {
    func run() async throws {
        let process = ProcessBootstrap.start(global)
        do {
            try await run(process)
        } catch let error where process.logFormat == .json && !(error is ExitCode) && !(error is CleanExit) {
            // A JSON log stays JSON to its last line: the error as a record, not
            // ArgumentParser's plain `Error: ...` (same exit status).
            Logger(label: "metro").error("\(error)")
            let setup =
                error is EndpointUnavailable
                || (error as? ZMQError).map { $0.code == .addressInUse || $0.code == .addressNotAvailable } == true
            throw setup ? ExitCode(EndpointUnavailable.exitStatus) : Self.exitCode(for: error)
        } catch let error as EndpointUnavailable {
            throw error.exit()
        } catch let error as ZMQError where error.code == .addressInUse || error.code == .addressNotAvailable {
            // `bind tcp://127.0.0.1:7701: Address already in use`: the message names the endpoint.
            throw EndpointUnavailable(endpoint: nil, reason: "\(error)").exit()
        }
    }
}

/// A setup error that a restart does not fix (a tool the worker needs is
/// missing): the process says what on stderr and exits with `exitStatus`
/// (EX_CONFIG), which `metro up` (`Supervisor`) takes as "do not restart".
struct SetupError: Error, CustomStringConvertible {
    static let exitStatus: Int32 = 78
    let description: String

    init(_ description: String) { self.description = description }

    /// Writes the description to stderr and returns the exit status to throw.
    func exit() -> ExitCode {
        FileHandle.standardError.write(Data("error: \(description)\n".utf8))
        return ExitCode(Self.exitStatus)
    }
}

/// An endpoint this process must bind is taken or not on this host: a setup
/// error (`SetupError.exitStatus`). The process says which endpoint on stderr.
struct EndpointUnavailable: Error, CustomStringConvertible {
    static let exitStatus = SetupError.exitStatus
    /// What could not be bound (`metrics 127.0.0.1:7709`); nil when `reason` names it.
    let endpoint: String?
    let reason: String

    var description: String {
        (endpoint.map { "cannot bind \($0): " } ?? "cannot bind: ") + reason
            + " (stop what holds it, or choose another endpoint in the configuration or with a flag)"
    }

    /// Writes the description to stderr and returns the exit status to throw.
    func exit() -> ExitCode {
        FileHandle.standardError.write(Data("error: \(description)\n".utf8))
        return ExitCode(Self.exitStatus)
    }
}

/// The one place a `metro` process sets up swift-log and swift-metrics, as the
/// libraries ask: only the executable bootstraps, once, before anything logs or
/// counts. Every process exports its swift-metrics through swift-prometheus; a
/// command with an HTTP endpoint serves `prometheus` (`MetricsEndpoint`).
struct ProcessBootstrap: Sendable {
    /// The process's metrics registry (the swift-metrics backend).
    let prometheus: PrometheusCollectorRegistry
    let logLevel: Logger.Level
    let logFormat: LogFormat

    /// Bootstraps logging to stderr at `options.logLevel` and swift-metrics with a
    /// swift-prometheus factory. Call once per process (the libraries trap otherwise).
    static func start(_ options: GlobalOptions) -> ProcessBootstrap {
        let level = options.logLevel
        let format = options.resolvedLogFormat
        LoggingSystem.bootstrap { label in
            switch format {
            case .text:
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            case .json:
                var handler = JSONLogHandler(label: label)
                handler.logLevel = level
                return handler
            }
        }
        let prometheus = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: prometheus)
        // The gateway's latencies are milliseconds: the default buckets (5 ms, 10 ms,
        // 25 ms, ...) cannot tell a p99 of 6 ms from one of 9 (the benchmark reads
        // the served requests' p99 from this histogram, docs/operations.md).
        factory.durationHistogramBuckets["metro_gateway_request_duration_seconds"] =
            [1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 75, 100, 250, 500, 1000, 2500, 5000, 10000].map {
                .milliseconds($0)
            }
        MetricsSystem.bootstrap(factory)
        return ProcessBootstrap(prometheus: prometheus, logLevel: level, logFormat: format)
    }

    /// The arguments that give a child `metro` process the same global options.
    var childArguments: [String] { ["--log-level", logLevel.rawValue, "--log-format", logFormat.rawValue] }
}
