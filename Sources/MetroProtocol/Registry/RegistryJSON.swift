import Foundation

/// The JSON coding every registry body uses (protocol.md §5.3): UTF-8, keys sorted,
/// slashes unescaped, so encoded bodies are byte-stable and match the test vectors.
package enum RegistryJSON {
    package static func encode(_ value: some Encodable) -> [UInt8] { WireJSON.encode(value) }

    /// Decodes a JSON body the registry wrote (a reply, a membership event), with
    /// Foundation's lenient reader: 103 when it is not UTF-8, 104 when it is not
    /// JSON or lacks a required field. Requests are read strictly, by
    /// `RegistryBody` (§5.2), never by this.
    package static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8], what: String) -> Result<T, WireError>
    {
        guard String(validating: bytes, as: UTF8.self) != nil else {
            return .failure(WireError(.invalidUTF8, "the \(what) body is not valid UTF-8"))
        }
        do {
            return .success(try JSONDecoder().decode(T.self, from: Data(bytes)))
        } catch let DecodingError.keyNotFound(key, _) {
            return .failure(WireError(.invalidJSON, "the \(what) body lacks the required field '\(key.stringValue)'"))
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return .failure(WireError(.invalidJSON, "the \(what) body has a wrong type at '\(path)'"))
        } catch {
            return .failure(WireError(.invalidJSON, "the \(what) body is not valid JSON"))
        }
    }
}
