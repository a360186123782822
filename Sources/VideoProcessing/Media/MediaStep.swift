/// What processing does to a source blob: read its media info and write a
/// thumbnail and a preview into the blob store. Given the same source, a step
/// gives the same outputs (the same blob ids), so a job that runs again after a
/// crash publishes what the first run would have.
///
/// Errors: `MediaFailure` when the source cannot be processed (final: the video
/// fails); `BlobError` with `diskFull` when the disk is full (the job is held and
/// runs again once space is free); `MediaToolKilled` when a tool was ended by a
/// signal not ours (runs again, fails the video at the third attempt);
/// `CommandRunner.Interrupted.stopped` on shutdown
/// and anything else (another disk error, a missing ffmpeg) are transient: the
/// event is redelivered.
public protocol MediaStep: Sendable {
    func process(sourceBlobId: String, deadline: ContinuousClock.Instant) async throws -> MediaOutputs
}

/// Which step a worker runs (`--synthetic-work-ms` picks the synthetic one).
public enum MediaMode: Sendable, Hashable {
    /// ffprobe and ffmpeg (paths, or names looked up on PATH).
    case ffmpeg(ffmpeg: String, ffprobe: String)
    /// A CPU-bound step of that many milliseconds instead of ffmpeg, for load tests.
    case synthetic(workMs: Int)
}
