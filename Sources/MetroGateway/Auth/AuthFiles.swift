import Crypto
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The gateway's secret files: the HS256 key its tokens are signed with
/// (`GatewaySecret`) and the API keys (`APIKeys`). Like the CURVE secret keys of
/// Sources/MetroSecurity/KeyFiles.swift, a secret file that group or others may
/// read or write is refused at load, naming the fix: whoever reads it can mint
/// any token. (Written here again rather than shared: MetroGateway has no ZeroMQ,
/// and MetroSecurity brings it.)
public struct AuthFileError: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var reason: String
    public var description: String { "\(path): \(reason)" }
}

enum SecretFile {
    /// The file's text, after checking that it is a regular file of mode 0600 (or stricter).
    static func read(_ path: String) throws(AuthFileError) -> String {
        var info = stat()
        guard stat(path, &info) == 0 else { throw AuthFileError(path: path, reason: String(cString: strerror(errno))) }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw AuthFileError(path: path, reason: "a secret must be a regular file")
        }
        let mode = info.st_mode & 0o777
        guard mode & 0o077 == 0 else {
            throw AuthFileError(
                path: path,
                reason:
                    "readable or writable by group or others (mode 0\(String(mode, radix: 8))); run `chmod 600 \(path)`"
            )
        }
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8)
        else { throw AuthFileError(path: path, reason: "cannot read it as UTF-8 text") }
        return text
    }

    /// Creates `path` exclusively with mode 0600 (never readable by others, not for
    /// a moment) and writes `text`; never overwrites.
    static func create(_ path: String, text: String) throws(AuthFileError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw AuthFileError(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        _ = fchmod(fd, 0o600)
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count, fsync(fd) == 0 else {
            throw AuthFileError(path: path, reason: String(cString: strerror(errno)))
        }
    }
}

/// The HS256 secret: 32 random bytes as 64 hex digits and a newline, mode 0600.
/// `metro gateway-auth secret PATH` and `metro up --secure` make it with
/// `generate(at:)`; `metro gateway --auth-secret-file PATH` loads it.
public enum GatewaySecret {
    /// Fewer bytes than this are refused: HS256's key should be as long as its hash.
    public static let minimumBytes = 32

    /// Writes a new secret to `path` (created exclusively, mode 0600; never overwrites).
    public static func generate(at path: String) throws(AuthFileError) {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<minimumBytes).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        try SecretFile.create(path, text: bytes.map { String(format: "%02x", $0) }.joined() + "\n")
    }

    /// The key's bytes from `path`, refused when the file is unsafe, not hex, or short.
    public static func load(_ path: String) throws(AuthFileError) -> [UInt8] {
        let text = try SecretFile.read(path).trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.utf8.count % 2 == 0, text.utf8.allSatisfy({ $0 < 0x80 && isxdigit(Int32($0)) != 0 }) else {
            throw AuthFileError(
                path: path, reason: "not a secret of hex digits (make one with `metro gateway-auth secret`)")
        }
        let digits = Array(text.utf8)
        let bytes = stride(from: 0, to: digits.count, by: 2).map {
            UInt8(String(decoding: digits[$0..<$0 + 2], as: UTF8.self), radix: 16)!
        }
        guard bytes.count >= minimumBytes else {
            throw AuthFileError(path: path, reason: "\(bytes.count) bytes; a secret has at least \(minimumBytes)")
        }
        return bytes
    }
}

/// API keys: opaque bearer credentials, each naming a subject and a role. The
/// file (mode 0600) has one key a line, `KEY SUBJECT ROLE`, blank lines and `#`
/// comments allowed; a key is 16–256 visible ASCII characters without a dot (a
/// credential with two dots is read as a JWT).
///
/// Held by the SHA-256 of each key, never the key: a lookup hashes what the
/// caller sent and finds the digest in a table, so the time an answer takes
/// depends on the digest of the caller's guess, not on how many leading bytes of
/// a real key it got right (a `String` compare stops at the first difference),
/// and the keys do not sit in the gateway's memory in the clear.
public struct APIKeys: Sendable {
    let byDigest: [SHA256Digest: Principal]

    public init(_ entries: [String: Principal]) {
        byDigest = Dictionary(uniqueKeysWithValues: entries.map { (Self.digest($0.key), $0.value) })
    }

    /// How many keys there are.
    public var count: Int { byDigest.count }

    static func digest(_ key: String) -> SHA256Digest { SHA256.hash(data: Array(key.utf8)) }

    public static func load(_ path: String) throws(AuthFileError) -> APIKeys {
        var entries: [String: Principal] = [:]
        for (n, line) in try SecretFile.read(path).split(separator: "\n", omittingEmptySubsequences: false).enumerated()
        {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            let words = trimmed.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard words.count == 3, isValidKey(words[0]), Principal.isValidSubject(words[1]),
                let role = Role(rawValue: words[2])
            else {
                throw AuthFileError(
                    path: path,
                    reason:
                        "line \(n + 1): want `KEY SUBJECT ROLE` (key: 16–256 visible ASCII, no '.'; role: user or operator)"
                )
            }
            guard entries[words[0]] == nil else {
                throw AuthFileError(path: path, reason: "line \(n + 1): the key is listed twice")
            }
            entries[words[0]] = Principal(subject: words[1], role: role)
        }
        return APIKeys(entries)
    }

    static func isValidKey(_ key: String) -> Bool {
        (16...256).contains(key.utf8.count) && key.utf8.allSatisfy { (0x21...0x7E).contains($0) && $0 != 0x2E }
    }

    func principal(for key: String) -> Principal? { byDigest[Self.digest(key)] }
}
