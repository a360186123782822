import Foundation
public import ZeroMQ

#if canImport(Glibc)
    import Glibc
#endif

/// `MetroSecurity` is what Metro's processes share to run CURVE (protocol.md §7):
/// key files on disk, the allow-list of client identities, and the ZAP
/// authenticator the broker and the registry answer their `ZapHandler` with.
///
/// `KeyFiles`: a key pair NAME is two files in one folder. `NAME.key` holds the
/// secret key (40 characters of Z85 and a newline), mode 0600: whoever reads it
/// *is* NAME. `NAME.pub` holds the public key the same way, for anyone. The public
/// key is derived from the secret one when loading a `.key`, so the two can never
/// disagree in use. Loading a secret key that group or others may read is refused,
/// like ssh refuses such a private key: a leaked key cannot be taken back.
public enum KeyFiles {
    /// The name of a key pair: what `metro keys generate` takes and the allow-list
    /// may call an identity. Letters, digits, `.`, `_`, `-`; 1 to 64 characters.
    public static func isValidName(_ name: String) -> Bool {
        (1...64).contains(name.utf8.count) && !name.hasPrefix(".")
            && name.utf8.allSatisfy { c in
                (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2E
                    || c == 0x5F || c == 0x2D
            }
    }

    /// Writes `keys` as `NAME.key` (mode 0600, created exclusively) and `NAME.pub`
    /// (0644) in `directory`, which is created (0700) if missing. Never overwrites.
    /// Returns the two paths.
    @discardableResult
    public static func write(
        _ keys: CurveKeyPair, name: String, directory: String
    ) throws(SecurityError) -> (secret: String, public: String) {
        guard isValidName(name) else {
            throw SecurityError(
                .unwritable, path: name, reason: "a key name has 1-64 letters, digits, '.', '_' or '-'")
        }
        do {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw SecurityError(.unwritable, path: directory, reason: "cannot create the folder: \(error)")
        }
        let secretPath = (directory as NSString).appendingPathComponent("\(name).key")
        let publicPath = (directory as NSString).appendingPathComponent("\(name).pub")
        for path in [secretPath, publicPath] where FileManager.default.fileExists(atPath: path) {
            throw SecurityError(.exists, path: path, reason: "already exists; remove it first to replace the key")
        }
        try create(secretPath, mode: 0o600, text: keys.secretKey + "\n")
        try create(publicPath, mode: 0o644, text: keys.publicKey + "\n")
        return (secretPath, publicPath)
    }

    /// O_EXCL so that a file that appeared meanwhile is not written through, and
    /// the mode given at creation so the secret is never readable by others, not
    /// even for a moment (fchmod after, in case the umask took bits away).
    private static func create(_ path: String, mode: mode_t, text: String) throws(SecurityError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw SecurityError(.unwritable, path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        _ = fchmod(fd, mode)
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { writeBytes(fd, $0) }
        guard written == bytes.count, fsync(fd) == 0 else {
            throw SecurityError(.unwritable, path: path, reason: String(cString: strerror(errno)))
        }
    }

    /// Loads the key pair whose secret key is in `path` (a `NAME.key`). Refuses a
    /// file that is not a regular file or whose mode lets group or others read or
    /// write it, naming the fix.
    public static func loadSecret(_ path: String) throws(SecurityError) -> CurveKeyPair {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw SecurityError(.unreadable, path: path, reason: String(cString: strerror(errno)))
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw SecurityError(.unsafePermissions, path: path, reason: "a secret key must be a regular file")
        }
        let mode = info.st_mode & 0o777
        guard mode & 0o077 == 0 else {
            throw SecurityError(
                .unsafePermissions, path: path,
                reason: "the secret key file is readable or writable by group or others (mode 0"
                    + String(mode, radix: 8) + "); run `chmod 600 \(path)`")
        }
        let text = try readKey(path)
        do {
            return try CurveKeyPair(secretKey: text)
        } catch {
            throw SecurityError(.malformedKey, path: path, reason: "not a CURVE secret key: \(error)")
        }
    }

    /// Loads a public key from `path`: a `NAME.pub` (40 characters of Z85).
    public static func loadPublic(_ path: String) throws(SecurityError) -> String {
        try readKey(path)
    }

    private static func readKey(_ path: String) throws(SecurityError) -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SecurityError(.unreadable, path: path, reason: "the file does not exist or cannot be read")
        }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard CurveKeyPair.isKey(text) else {
            throw SecurityError(.malformedKey, path: path, reason: "expected one key of 40 Z85 characters")
        }
        return text
    }

    /// One key pair found by `list`.
    public struct Entry: Sendable, Hashable {
        public let name: String
        /// The public key, from `NAME.pub` (or derived from `NAME.key` when there is no `.pub`).
        public let publicKey: String?
        /// Whether `NAME.key` is there (this host holds the identity).
        public let hasSecret: Bool
        /// Why the pair is unusable, if it is (an unsafe mode, a malformed file).
        public let problem: String?
    }

    /// The key pairs in `directory`, by name: every `NAME.pub` and `NAME.key`.
    public static func list(_ directory: String) throws(SecurityError) -> [Entry] {
        let files: [String]
        do {
            files = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw SecurityError(.unreadable, path: directory, reason: "cannot list the folder: \(error)")
        }
        let names = Set(
            files.compactMap { f -> String? in
                for ext in [".key", ".pub"] where f.hasSuffix(ext) { return String(f.dropLast(4)) }
                return nil
            })
        return names.sorted().map { name in
            let secretPath = (directory as NSString).appendingPathComponent("\(name).key")
            let publicPath = (directory as NSString).appendingPathComponent("\(name).pub")
            let hasSecret = files.contains("\(name).key")
            var publicKey: String?
            var problem: String?
            if files.contains("\(name).pub") {
                do throws(SecurityError) { publicKey = try loadPublic(publicPath) } catch { problem = error.reason }
            }
            if hasSecret {
                do throws(SecurityError) {
                    let derived = try loadSecret(secretPath).publicKey
                    if publicKey == nil { publicKey = derived }
                    if publicKey != derived { problem = "\(name).pub does not match \(name).key" }
                } catch { problem = error.reason }
            }
            return Entry(name: name, publicKey: publicKey, hasSecret: hasSecret, problem: problem)
        }
    }
}

/// `write(2)` under a name that the static `KeyFiles.write` does not shadow.
private func writeBytes(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Int {
    write(fd, bytes.baseAddress, bytes.count)
}
