import Foundation
import Yams

/// What `metro up` starts besides the broker and the registry: how many
/// instances of each service, and the video workers' operator settings.
/// Broker/system.yaml documents every key; missing keys keep the defaults
/// written there (profiles 1, video 2, recommendations 1, synthetic off).
struct SystemFile: Codable, Equatable, Sendable {
    /// The file used when `--system` is not given, if it is there.
    static let defaultPath = "Broker/system.yaml"
    /// The services `metro up` can start, in start order (a gateway, when it
    /// lands, starts after them: it calls them).
    static let serviceNames = ["profiles", "video", "recommendations"]
    static let maxInstances = 64

    var services: [String: Int] = ["profiles": 1, "video": 2, "recommendations": 1]
    var video = Video()

    struct Video: Codable, Equatable, Sendable {
        var jobs: Int?
        var syntheticWorkMs: Int?
    }

    init() {}

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let counts = try c.decodeIfPresent([String: Int].self, forKey: .services) ?? [:]
        for (name, count) in counts { services[name] = count }
        video = try c.decodeIfPresent(Video.self, forKey: .video) ?? Video()
    }

    /// Rejects unknown service names and counts out of range, naming the key.
    func validate() throws(ConfigurationFile.LoadError) {
        for (name, count) in services {
            guard Self.serviceNames.contains(name) else {
                throw .init(
                    path: "system", reason: "services.\(name): unknown service (known: \(Self.serviceNames))")
            }
            guard (0...Self.maxInstances).contains(count) else {
                throw .init(path: "system", reason: "services.\(name): \(count) is not in 0...\(Self.maxInstances)")
            }
        }
        if let jobs = video.jobs, jobs < 1 { throw .init(path: "system", reason: "video.jobs must be at least 1") }
        if let ms = video.syntheticWorkMs, ms < 0 {
            throw .init(path: "system", reason: "video.syntheticWorkMs must not be negative")
        }
    }

    /// Loads `path`, or the default file, or built-in defaults when neither exists.
    static func load(_ path: String?) throws -> SystemFile {
        let chosen = path ?? (FileManager.default.fileExists(atPath: defaultPath) ? defaultPath : nil)
        guard let file = chosen else { return SystemFile() }
        guard let data = FileManager.default.contents(atPath: file), let text = String(data: data, encoding: .utf8)
        else {
            throw ConfigurationFile.LoadError(path: file, reason: "the file does not exist or cannot be read")
        }
        let system: SystemFile
        do {
            system =
                text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
                ? SystemFile() : try YAMLDecoder().decode(SystemFile.self, from: text)
        } catch {
            throw ConfigurationFile.LoadError(path: file, reason: "\(error)")
        }
        do {
            try system.validate()
        } catch {
            throw ConfigurationFile.LoadError(path: file, reason: error.reason)
        }
        return system
    }
}
