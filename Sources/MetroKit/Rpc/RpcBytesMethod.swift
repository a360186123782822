public import MetroProtocol

/// An rpc method whose answer carries raw bytes: its response body is a JSON head
/// and the bytes after it (protocol.md §6.9, `RpcBytesBody`), not one JSON value.
/// For methods that move file contents, which base64 in JSON would make 4/3 the
/// size and far costlier to encode and decode. Its request is JSON, as with
/// `RpcMethod`:
///
///     let readMedia = RpcBytesReplyMethod<MediaRead, MediaHead>("video.media.bytes", idempotent: true)
///
/// `RpcBytesRequestMethod` is the other way round: raw bytes in, JSON out.
public struct RpcBytesReplyMethod<Request: Codable & Sendable, Head: Codable & Sendable>: Sendable {
    /// 1–128 bytes of `A-Z a-z 0-9 . _ -` (§6.2).
    public let name: String
    /// Whether calling it twice has the effect of calling it once (see `RpcMethod.idempotent`).
    public let idempotent: Bool

    /// Traps on a name that breaks §6.2, as `RpcMethod` does.
    public init(_ name: String, idempotent: Bool = false) {
        self.name = declaredMethodName(name)
        self.idempotent = idempotent
    }
}

/// An rpc method whose request carries raw bytes (protocol.md §6.9): a JSON head
/// and the bytes after it; its answer is JSON, as with `RpcMethod`:
///
///     let writeChunk = RpcBytesRequestMethod<ChunkHead, ChunkAck>("video.upload.bytes", idempotent: true)
public struct RpcBytesRequestMethod<Head: Codable & Sendable, Response: Codable & Sendable>: Sendable {
    /// 1–128 bytes of `A-Z a-z 0-9 . _ -` (§6.2).
    public let name: String
    /// Whether calling it twice has the effect of calling it once (see `RpcMethod.idempotent`).
    public let idempotent: Bool

    /// Traps on a name that breaks §6.2, as `RpcMethod` does.
    public init(_ name: String, idempotent: Bool = false) {
        self.name = declaredMethodName(name)
        self.idempotent = idempotent
    }
}

/// The bytes side of an `RpcBytesReplyMethod` or `RpcBytesRequestMethod`: a head
/// (JSON on the wire) and bytes (raw).
public struct RpcBytes<Head: Codable & Sendable>: Sendable {
    public var head: Head
    /// A slice of the body as it arrived: no copy is made to split it from the head.
    public var bytes: ArraySlice<UInt8>

    public init(head: Head, bytes: ArraySlice<UInt8>) {
        self.head = head
        self.bytes = bytes
    }

    public init(head: Head, bytes: [UInt8]) { self.init(head: head, bytes: bytes[...]) }

    /// The body on the wire: `RpcBytesBody` of the head's JSON (sorted keys) and the
    /// bytes; a head over 4 KiB of JSON is a 107 (the sender's bug).
    public func encode() -> Result<[UInt8], WireError> {
        RpcRouter.encode(head).flatMap { head in
            guard head.count <= RpcBytesBody.maxHeadBytes else {
                return .failure(
                    WireError(
                        .internalError,
                        "the head has \(head.count) bytes of JSON; at most \(RpcBytesBody.maxHeadBytes)"))
            }
            return .success(RpcBytesBody.encode(head: head, bytes: bytes))
        }
    }

    /// Reads a body: the head strictly as `Head` (§5.2), the bytes as they are.
    public static func decode(_ body: [UInt8]) -> Result<Self, WireError> {
        RpcBytesBody.split(body).flatMap { parts in
            RpcRouter.decode(Head.self, from: Array(parts.head))
                .map { Self(head: $0, bytes: parts.bytes) }
                .mapError { error in
                    // RpcRouter says "the body …"; here it is the head that is wrong.
                    guard error.message.hasPrefix("the body") else { return error }
                    return WireError(error.code, "the head" + error.message.dropFirst("the body".count))
                }
        }
    }
}
