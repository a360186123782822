import Crypto
public import Foundation

/// SHA-256, incremental, as hex: the blob store's content address. swift-crypto's
/// (BoringSSL's code on Linux, with the CPU's SHA instructions where it has them):
/// until 2026-12-05 this was a SHA-256 written here in Swift, which took ~3 ms of
/// the video worker's CPU per MB stored, a quarter of an upload's cost
/// (docs/performance.md, "Uploads through the gateway").
public struct BlobHash: Sendable {
    private var hasher = SHA256()

    public init() {}

    /// Adds `bytes` to the message.
    public mutating func update(_ bytes: some DataProtocol) { hasher.update(data: bytes) }

    /// The digest as 64 lowercase hex characters (the blob id form).
    public func finalizeHex() -> String {
        let digits = Array("0123456789abcdef".utf8)
        var hex: [UInt8] = []
        hex.reserveCapacity(64)
        for byte in hasher.finalize() {
            hex.append(digits[Int(byte >> 4)])
            hex.append(digits[Int(byte & 0xF)])
        }
        return String(decoding: hex, as: UTF8.self)
    }

    /// The hex digest of `bytes`.
    public static func hex(_ bytes: some DataProtocol) -> String {
        var hash = BlobHash()
        hash.update(bytes)
        return hash.finalizeHex()
    }
}
