/// The grammar and limits of registry fields (protocol.md §5.2). Each check
/// returns the `WireError` the registry answers with, or nil when the value is valid.
package enum RegistryLimits {
    /// The largest request the registry decodes; larger ones get 105 `too-large`.
    package static let maxRequestBytes = 64 * 1024
    package static let maxServiceNameBytes = 63
    package static let maxInstanceIDBytes = 128
    package static let maxEndpoints = 8
    package static let maxEndpointBytes = 256
    package static let maxMetadataEntries = 32
    package static let maxMetadataKeyBytes = 64
    package static let maxMetadataValueBytes = 1024
    /// The TTL range the registry accepts unless configured otherwise.
    package static let defaultTTLRange: ClosedRange<UInt64> = 100...600_000

    /// §5.2: 1–63 bytes of `a-z`, `0-9`, `-`; starts with a letter; does not end with `-`.
    package static func validateServiceName(_ name: String) -> WireError? {
        let bytes = Array(name.utf8)
        guard !bytes.isEmpty else { return WireError(.invalidServiceName, "the service name is empty") }
        guard bytes.count <= maxServiceNameBytes else {
            return WireError(
                .invalidServiceName,
                "the service name has \(bytes.count) bytes; at most \(maxServiceNameBytes) are allowed")
        }
        guard isLower(bytes[0]) else {
            return WireError(.invalidServiceName, "the service name must start with a lower-case letter a-z")
        }
        for (i, b) in bytes.enumerated() where !(isLower(b) || isDigit(b) || b == UInt8(ascii: "-")) {
            return WireError(
                .invalidServiceName, "byte \(i) of the service name (0x\(String(b, radix: 16))) is not a-z, 0-9 or '-'")
        }
        if bytes.last == UInt8(ascii: "-") {
            return WireError(.invalidServiceName, "the service name must not end with '-'")
        }
        return nil
    }

    /// §5.2: 1–128 bytes of `A-Z a-z 0-9 . _ : -`.
    package static func validateInstanceID(_ id: String) -> WireError? {
        let bytes = Array(id.utf8)
        guard !bytes.isEmpty, bytes.count <= maxInstanceIDBytes else {
            return WireError(
                .invalidArgument, "the instance id must have 1-\(maxInstanceIDBytes) bytes, it has \(bytes.count)")
        }
        for (i, b) in bytes.enumerated() {
            let ok =
                isLower(b) || isDigit(b) || (b >= 0x41 && b <= 0x5A)
                || b == UInt8(ascii: ".") || b == UInt8(ascii: "_") || b == UInt8(ascii: ":") || b == UInt8(ascii: "-")
            if !ok {
                return WireError(
                    .invalidArgument,
                    "byte \(i) of the instance id (0x\(String(b, radix: 16))) is not A-Z, a-z, 0-9, '.', '_', ':' or '-'"
                )
            }
        }
        return nil
    }

    /// §5.2: `tcp://host:port` (port 1–65535, no wildcard) or `ipc://path`, at most 256 bytes.
    package static func validateEndpoint(_ endpoint: String) -> WireError? {
        guard !endpoint.isEmpty, endpoint.utf8.count <= maxEndpointBytes else {
            return WireError(.invalidEndpoint, "an endpoint must have 1-\(maxEndpointBytes) bytes")
        }
        if endpoint.utf8.contains(where: { $0 <= 0x20 || $0 >= 0x7F }) {
            return WireError(.invalidEndpoint, "'\(endpoint)' contains spaces, control or non-ASCII bytes")
        }
        if endpoint.hasPrefix("ipc://") {
            return endpoint.count > 6 ? nil : WireError(.invalidEndpoint, "'\(endpoint)' has no path")
        }
        guard endpoint.hasPrefix("tcp://") else {
            return WireError(
                .invalidEndpoint, "'\(endpoint)' is not a ZeroMQ endpoint; expected tcp://host:port or ipc://path")
        }
        let rest = endpoint.dropFirst(6)
        guard let colon = rest.lastIndex(of: ":") else {
            return WireError(.invalidEndpoint, "'\(endpoint)' has no port")
        }
        let host = rest[..<colon], port = rest[rest.index(after: colon)...]
        guard !host.isEmpty, host != "*" else {
            return WireError(.invalidEndpoint, "'\(endpoint)' has no host a client could connect to")
        }
        guard let p = UInt16(port), p > 0 else {
            return WireError(
                .invalidEndpoint, "'\(endpoint)' has no port in 1-65535 (wildcards must be resolved before registering)"
            )
        }
        return nil
    }

    /// §5.2: at most 32 entries; keys 1–64 bytes, values at most 1024 bytes.
    package static func validateMetadata(_ metadata: [String: String]) -> WireError? {
        guard metadata.count <= maxMetadataEntries else {
            return WireError(
                .invalidArgument, "metadata has \(metadata.count) entries; at most \(maxMetadataEntries) are allowed")
        }
        for (k, v) in metadata {
            if k.isEmpty || k.utf8.count > maxMetadataKeyBytes {
                return WireError(
                    .invalidArgument, "metadata key '\(k.prefix(80))' must have 1-\(maxMetadataKeyBytes) bytes")
            }
            if v.utf8.count > maxMetadataValueBytes {
                return WireError(
                    .tooLarge,
                    "metadata value of '\(k)' has \(v.utf8.count) bytes; at most \(maxMetadataValueBytes) are allowed")
            }
        }
        return nil
    }

    private static func isLower(_ b: UInt8) -> Bool { b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z") }
    private static func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }
}
