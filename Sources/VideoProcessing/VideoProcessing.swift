/// The video-processing service (issue 15; docs/services.md, "Video").
///
/// What it holds: videos (owner, title, tags, status, the source blob and what
/// processing made of it) in `<data>/video/video.sqlite`, and their bytes in a
/// content-addressed blob store, `<data>/video/blobs/` (`BlobStore`). An upload
/// (`video.upload`, or `video.upload.begin|chunk|finish` for streamed bodies)
/// stores the bytes, then commits the video (status `uploaded`) and its
/// `video.uploaded` event together. Every instance consumes `video.uploaded` in
/// group `video-processing`, so N instances share the work and the inbox makes
/// each upload's outcome commit once: status `processing`, then `processed`
/// with `video.processed` (media info, thumbnail and preview blobs) or `failed`
/// with `video.failed` (the reason), in the same transaction as the status.
///
/// The media step is `MediaStep`: `FFmpegStep` (ffprobe's JSON, a JPEG thumbnail
/// and a 240p H.264 preview, bit-exact so that a job run again after a crash
/// gives the same blob ids) or, for load tests only, `SyntheticStep`
/// (`--synthetic-work-ms`). `Domain/` and `Storage/` have no I/O but SQLite and
/// files; `Service/` puts them on the runtime. `metro worker video` runs it.
public enum VideoProcessing {
    /// The service's name in the registry and its data folder.
    public static let serviceName = "video"
    /// The consumer group of its `video.uploaded` handler.
    public static let group = "video-processing"
}
