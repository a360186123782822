/// The grammar and limits of rpc fields (protocol.md §6.2). Each check returns the
/// `WireError` a server answers with, or nil when the value is valid.
public enum RpcLimits {
    /// A request id has 1–64 bytes (opaque).
    public static let maxRequestIDBytes = 64
    /// A method name has 1–128 bytes of `A-Z a-z 0-9 . _ -`.
    public static let maxMethodBytes = 128
    /// The headers frame is a JSON object of at most 4 KiB.
    public static let maxHeadersBytes = 4096
    /// The body limit a server applies unless configured otherwise (1 MiB).
    public static let defaultMaxBodyBytes = 1 << 20
    /// What the frames around the body may add: ZeroMQ's message limit on an rpc
    /// socket is the body limit plus this (§2.6), so a frame that large is cut by
    /// ZeroMQ, and every smaller one gets its field's error.
    public static let framingAllowanceBytes = 64 * 1024

    /// §6.2: 1–64 bytes; anything else cannot name a call, so it is 101 without context.
    public static func isUsableRequestID(_ id: some Collection<UInt8>) -> Bool {
        !id.isEmpty && id.count <= maxRequestIDBytes
    }

    /// §6.2: 1–128 bytes of `A-Z a-z 0-9 . _ -`: 103 when not UTF-8, 105 when
    /// longer, 108 when empty or another character.
    public static func validateMethod(_ bytes: [UInt8]) -> WireError? {
        guard String(validating: bytes, as: UTF8.self) != nil else {
            return WireError(.invalidUTF8, "the method name is not valid UTF-8")
        }
        guard !bytes.isEmpty else { return WireError(.invalidArgument, "the method name is empty") }
        guard bytes.count <= maxMethodBytes else {
            return WireError(
                .tooLarge, "the method name has \(bytes.count) bytes; at most \(maxMethodBytes) are allowed")
        }
        for (i, b) in bytes.enumerated() where !isMethodByte(b) {
            return WireError(
                .invalidArgument,
                "byte \(i) of the method name (0x\(String(b, radix: 16))) is not A-Z, a-z, 0-9, '.', '_' or '-'")
        }
        return nil
    }

    static func isMethodByte(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
            || b == UInt8(ascii: ".") || b == UInt8(ascii: "_") || b == UInt8(ascii: "-")
    }
}
