public import Foundation

/// The test vectors of docs/protocol.md, Appendix A: fenced blocks
/// "```vector <name>" with one hex frame per line ("-" is an empty frame), each
/// line's first word the frame and the rest a comment. Shared by the codec tests
/// and the system tests, which send the vectors to real processes.
public enum ProtocolVectors {
    /// docs/protocol.md, found from this file's place in the package.
    public static let documentURL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("docs/protocol.md")

    /// Every vector whose name starts with `prefix`, by name.
    public static func load(prefix: String = "") throws -> [String: [[UInt8]]] {
        let text = try String(contentsOf: documentURL, encoding: .utf8)
        var vectors: [String: [[UInt8]]] = [:]
        var current: (name: String, frames: [[UInt8]])?
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if let c = current {
                if line.hasPrefix("```") {
                    vectors[c.name] = c.frames
                    current = nil
                } else {
                    let hex = line.split(separator: " ").first.map(String.init) ?? ""
                    current!.frames.append(hex == "-" ? [] : try bytes(hex))
                }
            } else if line.hasPrefix("```vector ") {
                let name = String(line.dropFirst("```vector ".count))
                if name.hasPrefix(prefix) { current = (name, []) }
            }
        }
        return vectors
    }

    public static func bytes(_ hex: String) throws -> [UInt8] {
        let chars = Array(hex.utf8)
        guard chars.count % 2 == 0 else { throw VectorError.badHex(hex) }
        return try stride(from: 0, to: chars.count, by: 2).map { i in
            guard let b = UInt8(String(decoding: chars[i..<i + 2], as: UTF8.self), radix: 16) else {
                throw VectorError.badHex(hex)
            }
            return b
        }
    }

    public enum VectorError: Error { case badHex(String) }
}
