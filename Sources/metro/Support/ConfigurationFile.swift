import Foundation
import MetroBroker
import Yams

/// Reads the broker's YAML configuration (Broker/broker.yaml documents every key).
/// Yams decodes straight into the Codable `BrokerConfiguration`; missing keys keep
/// their defaults, so an empty file is a valid configuration.
enum ConfigurationFile {
    /// The file used when `--config` is not given: `Broker/broker.yaml` under the
    /// working directory, if it is there.
    static let defaultPath = "Broker/broker.yaml"

    struct LoadError: Error, CustomStringConvertible {
        let path: String
        let reason: String
        var description: String { "cannot read configuration \(path): \(reason)" }
    }

    /// Loads `path`, or the default file, or built-in defaults when neither exists.
    /// Returns the configuration and the path it came from (nil for built-in defaults).
    static func loadBroker(_ path: String?) throws -> (BrokerConfiguration, String?) {
        let chosen = path ?? (FileManager.default.fileExists(atPath: defaultPath) ? defaultPath : nil)
        guard let file = chosen else { return (BrokerConfiguration(), nil) }
        guard let data = FileManager.default.contents(atPath: file) else {
            throw LoadError(path: file, reason: "the file does not exist or cannot be read")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw LoadError(path: file, reason: "the file is not UTF-8")
        }
        if text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { return (BrokerConfiguration(), file) }
        do {
            return (try YAMLDecoder().decode(BrokerConfiguration.self, from: text), file)
        } catch let error as DecodingError {
            throw LoadError(path: file, reason: describe(error))
        } catch {
            throw LoadError(path: file, reason: "\(error)")
        }
    }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            context.codingPath.map(\.stringValue).joined(separator: ".")
        }
        switch error {
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c):
            return "key '\(path(c))': \(c.debugDescription)"
        case .keyNotFound(let key, let c):
            return "key '\(path(c)).\(key.stringValue)' is missing"
        @unknown default:
            return "\(error)"
        }
    }
}
