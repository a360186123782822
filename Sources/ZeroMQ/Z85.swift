internal import CZeroMQ

/// Z85 (ZeroMQ RFC 32), the text form of CURVE keys: every 4 bytes become 5
/// printable characters, so a 32-byte key is 40 characters that survive YAML,
/// shells and logs. libzmq's own encoder and decoder, so Metro and pyzmq agree.
public enum Z85 {
    /// The text of `bytes`, or nil when their count is not a multiple of 4.
    public static func encode(_ bytes: [UInt8]) -> String? {
        guard bytes.count % 4 == 0 else { return nil }
        var text = [CChar](repeating: 0, count: bytes.count / 4 * 5 + 1)
        let ok = bytes.withUnsafeBufferPointer { zmq_z85_encode(&text, $0.baseAddress, $0.count) != nil }
        guard ok else { return nil }
        return text.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    /// The bytes of `text`, or nil when it is not Z85: a length that is not a
    /// multiple of 5, or a character outside the alphabet. (libzmq's decoder reads
    /// a character outside its table as garbage, so this checks the alphabet first.)
    public static func decode(_ text: String) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 5 == 0, utf8.allSatisfy({ alphabet.contains($0) }) else { return nil }
        var bytes = [UInt8](repeating: 0, count: utf8.count / 5 * 4)
        var cString = utf8.map { CChar(bitPattern: $0) }
        cString.append(0)
        let ok = cString.withUnsafeBufferPointer { zmq_z85_decode(&bytes, $0.baseAddress) != nil }
        return ok ? bytes : nil
    }

    /// The 85 characters of RFC 32, in value order.
    static let alphabet = Set(
        "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#".utf8)
}
