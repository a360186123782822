/// What `metro gateway` is told (its flags): limits, deadlines and the adaptive
/// limit's tuning. The endpoints of the broker and the registry go to the clients
/// the gateway is given (`Gateway.init`).
public struct GatewayConfiguration: Sendable {
    /// Where HTTP listens; port 0 picks a free one.
    public var host = "127.0.0.1"
    public var port = 8080
    /// JSON request bodies larger than this are refused with 413 (read no further).
    public var maxJSONBodyBytes = 64 * 1024
    /// Uploads (`POST /v1/videos`) larger than this are refused with 413.
    public var maxUploadBytes: Int64 = 1 << 30
    /// The most bytes one `video.upload.bytes` chunk carries (the service may ask
    /// for fewer; it asks for at most 512 KiB). One chunk per upload is in memory
    /// at a time; 512 KiB chunks uploaded ~35% faster than 256 KiB ones
    /// (docs/performance.md, "Uploads through the gateway").
    public var uploadChunkBytes = 512 * 1024
    /// The most bytes one `video.media.bytes` piece of a thumbnail or preview
    /// carries (1 B–512 KiB, the service's limit). One piece per download is in
    /// memory at a time; larger pieces mean fewer rpc round trips (512 KiB served
    /// a preview ~15% faster than 256 KiB, docs/performance.md).
    public var mediaPieceBytes = 512 * 1024
    /// Open HTTP connections at most; more wait in the listen backlog.
    public var maxConnections = 1024
    /// A request's deadline when it sends no `X-Request-Timeout`.
    public var defaultTimeout: Duration = .seconds(5)
    /// The cap on `X-Request-Timeout`.
    public var maxTimeout: Duration = .seconds(30)
    /// Each upstream's adaptive concurrency limit.
    public var limit = AdaptiveLimit.Configuration()
    /// Authentication (issue 19 §5; docs/gateway-auth.md): nil, the default, leaves
    /// every route open as before; else the routes need a bearer credential.
    public var auth: GatewayAuth?
    /// TLS: nil, the default, serves plain HTTP.
    public var tls: TLSFiles?

    public init() {}
}

/// The PEM files of `metro gateway --tls-cert PATH --tls-key PATH`: the
/// certificate chain (the server's first) and its private key.
public struct TLSFiles: Sendable {
    public var certificatePath: String
    public var keyPath: String

    public init(certificatePath: String, keyPath: String) {
        self.certificatePath = certificatePath
        self.keyPath = keyPath
    }
}
