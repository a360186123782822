/// An rpc body that carries raw bytes beside a JSON head (protocol.md §6.9):
///
///     [head-length: u32, big-endian] [head: a JSON object, head-length bytes] [bytes: the rest]
///
/// Why: a method that moves file contents (a video's preview, an upload's chunk)
/// would otherwise put them in a JSON string as base64, which costs 4/3 of the
/// bytes on the wire and a byte-by-byte encode and decode on both sides (about
/// 6 ms of the video worker's CPU per MB, docs/performance.md). The head keeps
/// the method's metadata in JSON, read with the strict rules of §5.2; the bytes
/// are opaque and need no escaping. Bodies stay opaque to the rpc frames (§6.2):
/// only the methods that say so use this form.
public enum RpcBytesBody {
    /// The head is a JSON object of at most 4 KiB, like the headers frame.
    public static let maxHeadBytes = 4096

    /// The body of `head` (JSON, already encoded) and `bytes`.
    public static func encode(head: [UInt8], bytes: some Collection<UInt8>) -> [UInt8] {
        var body = [UInt8]()
        body.reserveCapacity(4 + head.count + bytes.count)
        let length = UInt32(head.count)
        body.append(UInt8(truncatingIfNeeded: length >> 24))
        body.append(UInt8(truncatingIfNeeded: length >> 16))
        body.append(UInt8(truncatingIfNeeded: length >> 8))
        body.append(UInt8(truncatingIfNeeded: length))
        body.append(contentsOf: head)
        body.append(contentsOf: bytes)
        return body
    }

    /// The head and the bytes of `body`, without copying; the failure is the 403
    /// `bad-request` a server answers (or a caller reports as a protocol violation).
    /// The head's JSON is not read here: its type's decoder does that.
    public static func split(_ body: [UInt8]) -> Result<(head: ArraySlice<UInt8>, bytes: ArraySlice<UInt8>), WireError>
    {
        guard body.count >= 4 else {
            return .failure(
                WireError(.badRequest, "the body has \(body.count) bytes; its first 4 must give the head's length"))
        }
        let length = body[0..<4].reduce(0) { $0 << 8 | Int($1) }
        guard length <= maxHeadBytes else {
            return .failure(
                WireError(.badRequest, "the body's head has \(length) bytes; at most \(maxHeadBytes) are allowed"))
        }
        guard length <= body.count - 4 else {
            return .failure(
                WireError(
                    .badRequest, "the body's head length is \(length), but only \(body.count - 4) bytes follow it"))
        }
        return .success((body[4..<(4 + length)], body[(4 + length)...]))
    }
}
