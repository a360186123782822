public import MetroKit

/// The video service's rpc methods, shared by the service and its callers (the
/// gateway, the CLI, tests): name, types and whether a retry is safe.
public enum VideoAPI {
    /// Not idempotent: a retry after a lost reply makes a second video.
    public static let upload = RpcMethod<UploadRequest, Video>("video.upload")
    public static let uploadBegin = RpcMethod<UploadBeginRequest, UploadBeginResponse>("video.upload.begin")
    /// Idempotent: the same bytes at the same offset change nothing.
    public static let uploadChunk = RpcMethod<UploadChunkRequest, UploadChunkResponse>(
        "video.upload.chunk", idempotent: true)
    /// `uploadChunk` with the bytes raw after a JSON head (protocol.md §6.9), not
    /// base64 in JSON: what the gateway sends. Idempotent as `uploadChunk` is.
    public static let uploadBytes = RpcBytesRequestMethod<UploadBytesHead, UploadChunkResponse>(
        "video.upload.bytes", idempotent: true)
    /// Idempotent: a repeated finish answers the video the first one made.
    public static let uploadFinish = RpcMethod<UploadFinishRequest, Video>("video.upload.finish", idempotent: true)
    /// Idempotent in effect: a repeated abort finds nothing and answers 404, which
    /// the caller takes as done.
    public static let uploadAbort = RpcMethod<UploadAbortRequest, UploadAbortResponse>(
        "video.upload.abort", idempotent: true)
    public static let get = RpcMethod<GetVideoRequest, Video>("video.get", idempotent: true)
    public static let list = RpcMethod<ListVideosRequest, VideoPage>("video.list", idempotent: true)
    /// A piece of a processed video's thumbnail or preview (the gateway streams them).
    /// The base64 form of `mediaBytes`, kept for callers older than it.
    public static let mediaRead = RpcMethod<MediaReadRequest, MediaChunk>("video.media.read", idempotent: true)
    /// A piece of a processed video's thumbnail or preview, its bytes raw after a
    /// JSON head (protocol.md §6.9): what the gateway streams them with.
    public static let mediaBytes = RpcBytesReplyMethod<MediaReadRequest, MediaHead>(
        "video.media.bytes", idempotent: true)

    /// The most raw bytes `video.upload`'s `data` and a chunk's `data` may carry:
    /// base64 makes 512 KiB into 683 KiB, under the rpc body limit of 1 MiB.
    public static let maxInlineBytes = 512 * 1024
}
