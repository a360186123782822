import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The real media step: ffprobe (JSON) → `MediaInfo`; ffmpeg → a JPEG thumbnail
/// and a 240p H.264 preview (AAC audio when the source has audio), each stored
/// as a blob. The outputs are bit-exact (`-fflags +bitexact`, `-flags +bitexact`,
/// no metadata, one encoder thread), so two runs on one source give the same
/// blob ids. A non-zero exit makes the tool's stderr the failure reason.
///
/// Children and a worker killed with kill -9: ffmpeg runs with `-timelimit`
/// (its own CPU-time limit, RLIMIT_CPU) of the job timeout, so an orphan dies
/// within that much CPU time at most (docs/operations.md, "Video worker").
public struct FFmpegStep: MediaStep {
    public let ffmpeg: String
    public let ffprobe: String
    public let blobs: BlobStore
    /// Where jobs keep their scratch files (`<data>/video/work`).
    public let workRoot: String

    public init(ffmpeg: String = "ffmpeg", ffprobe: String = "ffprobe", blobs: BlobStore, workRoot: String) {
        self.ffmpeg = ffmpeg
        self.ffprobe = ffprobe
        self.blobs = blobs
        self.workRoot = workRoot
    }

    public func process(sourceBlobId: String, deadline: ContinuousClock.Instant) async throws -> MediaOutputs {
        let source = blobs.path(of: sourceBlobId)
        guard FileManager.default.fileExists(atPath: source) else {
            throw MediaFailure("the source blob \(sourceBlobId) is missing")
        }
        let work = "\(workRoot)/\(UUID().uuidString.lowercased())"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        let media = try await probe(source, work: work, deadline: deadline)
        let thumbnail = "\(work)/thumbnail.jpg"
        let preview = "\(work)/preview.mp4"
        try await ffmpegRun(Self.thumbnailArguments(source, media: media, output: thumbnail), work, deadline)
        try await ffmpegRun(Self.previewArguments(source, output: preview), work, deadline)
        let (thumbnailID, previewID) = try await OffPool.run { [blobs] in
            (try blobs.put(copying: thumbnail).id, try blobs.put(copying: preview).id)
        }
        return MediaOutputs(media: media, thumbnailBlobId: thumbnailID, previewBlobId: previewID, synthetic: false)
    }

    /// `ffprobe -show_format -show_streams` as JSON, parsed.
    func probe(_ source: String, work: String, deadline: ContinuousClock.Instant) async throws -> MediaInfo {
        let output = try await timed {
            try await CommandRunner.run(ffprobe, Self.probeArguments(source), workFolder: work, deadline: deadline)
        }
        guard output.status == 0 else { throw MediaFailure("ffprobe: \(output.stderr)") }
        return try ProbeParser.parse(output.stdout)
    }

    private func ffmpegRun(_ arguments: [String], _ work: String, _ deadline: ContinuousClock.Instant) async throws {
        let seconds = max(1, Int((deadline - .now).components.seconds) + 1)
        let output = try await timed {
            try await CommandRunner.run(
                ffmpeg, Self.commonArguments(timeLimitSeconds: seconds) + arguments, workFolder: work,
                deadline: deadline)
        }
        guard output.status == 0 else { throw MediaFailure("ffmpeg: \(output.stderr)") }
    }

    /// A deadline that passed is the source's failure (it would time out again).
    private func timed<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch CommandRunner.Interrupted.timedOut {
            throw MediaFailure("timed out (--job-timeout-ms)")
        }
    }

    /// ffprobe's arguments: everything about the streams and the container, as JSON.
    public static func probeArguments(_ source: String) -> [String] {
        ["-v", "error", "-print_format", "json", "-show_format", "-show_streams", source]
    }

    /// The options every ffmpeg run starts with: no stdin, errors only, overwrite,
    /// and ffmpeg's own CPU-time limit.
    public static func commonArguments(timeLimitSeconds: Int) -> [String] {
        ["-nostdin", "-v", "error", "-y", "-timelimit", "\(timeLimitSeconds)"]
    }

    /// One frame at 1 s (or the start of a shorter clip), 240 lines high.
    public static func thumbnailArguments(_ source: String, media: MediaInfo, output: String) -> [String] {
        let at = media.durationSeconds >= 2 ? "1" : "0"
        return [
            "-ss", at, "-i", source, "-map", "0:v:0", "-frames:v", "1", "-vf", "scale=-2:240", "-f", "image2", "-c:v",
            "mjpeg", "-fflags", "+bitexact", "-flags:v", "+bitexact", "-map_metadata", "-1", output,
        ]
    }

    /// H.264 240p (width even, aspect kept), AAC 64 kb/s if there is audio, one thread.
    public static func previewArguments(_ source: String, output: String) -> [String] {
        [
            "-threads", "1", "-i", source, "-map", "0:v:0", "-map", "0:a:0?", "-vf", "scale=-2:240", "-c:v", "libx264",
            "-preset", "veryfast", "-crf", "28", "-pix_fmt", "yuv420p", "-threads", "1", "-c:a", "aac", "-b:a", "64k",
            "-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact", "-map_metadata", "-1",
            "-movflags", "+faststart", "-f", "mp4", output,
        ]
    }
}
