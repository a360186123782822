/// One request on the registry socket, after the REQ envelope (protocol.md §5.3):
/// `["metro/1"] [command] [body]?`. `decode` is what the registry runs on every
/// message it receives; `encode` is what clients send.
package enum RegistryRequest: Hashable, Sendable {
    case register(Registration)
    case heartbeat(InstanceKey)
    case deregister(InstanceKey)
    case lookup(service: String)
    case list
    case stats

    package var command: RegistryCommand {
        switch self {
        case .register: .register
        case .heartbeat: .heartbeat
        case .deregister: .deregister
        case .lookup: .lookup
        case .list: .list
        case .stats: .stats
        }
    }

    /// The request's frames, version first.
    package func encode() -> [[UInt8]] {
        var frames = [WireProtocol.versionBytes, command.frame]
        switch self {
        case .register(let r): frames.append(RegistryJSON.encode(r))
        case .heartbeat(let k), .deregister(let k): frames.append(RegistryJSON.encode(k))
        case .lookup(let service): frames.append(Array(service.utf8))
        case .list, .stats: break
        }
        return frames
    }

    /// Decodes and validates a request; the failure is the error reply to send.
    /// The checks run in the order of protocol.md §5.3, so each input has one answer.
    package static func decode(
        _ frames: [[UInt8]], ttlRange: ClosedRange<UInt64> = RegistryLimits.defaultTTLRange
    ) -> Result<RegistryRequest, WireError> {
        let size = frames.reduce(0) { $0 + $1.count }
        guard size <= RegistryLimits.maxRequestBytes else {
            return .failure(
                WireError(
                    .tooLarge, "the request has \(size) bytes; at most \(RegistryLimits.maxRequestBytes) are allowed"))
        }
        guard let version = frames.first, !version.isEmpty else {
            return .failure(
                WireError(.malformedMessage, "the request has no version frame; expected \"\(WireProtocol.version)\""))
        }
        guard version == WireProtocol.versionBytes else {
            return .failure(WireError(.unsupportedVersion, "this registry speaks \"\(WireProtocol.version)\" only"))
        }
        guard frames.count >= 2 else {
            return .failure(WireError(.malformedMessage, "the request has no command frame"))
        }
        guard let name = String(validating: frames[1], as: UTF8.self), let command = RegistryCommand(rawValue: name)
        else {
            let known = RegistryCommand.allCases.map(\.rawValue).joined(separator: ", ")
            return .failure(WireError(.unknownCommand, "unknown command; the registry knows \(known)"))
        }
        guard frames.count == command.frameCount else {
            return .failure(
                WireError(
                    .malformedMessage,
                    "\(command.rawValue) has \(command.frameCount) frames, this request has \(frames.count)"))
        }
        switch command {
        case .list: return .success(.list)
        case .stats: return .success(.stats)
        case .lookup:
            guard let service = String(validating: frames[2], as: UTF8.self) else {
                return .failure(WireError(.invalidUTF8, "the service name is not valid UTF-8"))
            }
            if let e = RegistryLimits.validateServiceName(service) { return .failure(e) }
            return .success(.lookup(service: service))
        case .register:
            return RegistryBody.registration(frames[2], ttlRange: ttlRange).map { .register($0) }
        case .heartbeat, .deregister:
            return RegistryBody.instanceKey(frames[2], what: command.rawValue).map { k in
                command == .heartbeat ? .heartbeat(k) : .deregister(k)
            }
        }
    }
}
