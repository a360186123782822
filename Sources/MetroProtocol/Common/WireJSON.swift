import Foundation

/// The one way Metro writes JSON onto the wire (registry bodies, JOIN configs,
/// JOINED, dead-letter headers): UTF-8, keys sorted, slashes not escaped, so the
/// same value always gives the same bytes and the test vectors of Appendix A
/// match. Reading is per field's rules: `StrictJSON` for what clients send.
package enum WireJSON {
    /// Encodes `value`; Metro's own Codable types (strings, integers, arrays and
    /// maps of them) cannot fail to encode, so a failure is a programmer error.
    package static func encode(_ value: some Encodable) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return Array(try encoder.encode(value))
        } catch {
            preconditionFailure("WireJSON: \(type(of: value)) did not encode: \(error)")
        }
    }
}
