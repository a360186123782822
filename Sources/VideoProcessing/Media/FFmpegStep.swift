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
///
/// A full disk is not the source's failure: the tools write their outputs (and
/// their stdout and stderr) into the job's work folder, so a tool that fails while
/// that disk is full (its stderr says ENOSPC or EDQUOT, or the folder's file system
/// has less than `nearlyFullBytes` left, in which case its stderr may be lost
/// too) throws `BlobError` with `diskFull`, and the job is held and run again once
/// space is free (`VideoProcessor`), not failed for good.
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

    /// `<data>/video/work`.
    public static func workRoot(dataFolder: String) -> String {
        URL(fileURLWithPath: dataFolder).appendingPathComponent(VideoProcessing.serviceName)
            .appendingPathComponent("work").path
    }

    public func process(sourceBlobId: String, deadline: ContinuousClock.Instant) async throws -> MediaOutputs {
        let source = blobs.path(of: sourceBlobId)
        guard FileManager.default.fileExists(atPath: source) else {
            throw MediaFailure("the source blob \(sourceBlobId) is missing")
        }
        let work = "\(workRoot)/\(UUID().uuidString.lowercased())"
        try? FileManager.default.createDirectory(atPath: workRoot, withIntermediateDirectories: true)
        guard mkdir(work, 0o755) == 0 else { throw BlobError.failed("mkdir \(work)") }
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
        let output = try await timed(work) {
            try await CommandRunner.run(ffprobe, Self.probeArguments(source), workFolder: work, deadline: deadline)
        }
        guard output.status == 0 else { throw Self.failure("ffprobe", output, work: work) }
        do {
            return try ProbeParser.parse(output.stdout)
        } catch {
            // ffprobe's JSON cut short by a full disk (its stdout is a file in `work`).
            if Self.isNearlyFull(work) { throw Self.diskFull("ffprobe", "its output was cut short") }
            throw error
        }
    }

    private func ffmpegRun(_ arguments: [String], _ work: String, _ deadline: ContinuousClock.Instant) async throws {
        let seconds = max(1, Int((deadline - .now).components.seconds) + 1)
        let output = try await timed(work) {
            try await CommandRunner.run(
                ffmpeg, Self.commonArguments(timeLimitSeconds: seconds) + arguments, workFolder: work,
                deadline: deadline)
        }
        guard output.status == 0 else { throw Self.failure("ffmpeg", output, work: work) }
    }

    /// Below this much free space in the work folder's file system, a failed tool is
    /// taken to have failed for want of space (its outputs and stderr live there).
    public static let nearlyFullBytes: UInt64 = 16 << 20

    /// A tool's non-zero exit: the disk's fault (`BlobError.diskFull`), a signal's
    /// (`MediaToolKilled`; SIGXCPU is `-timelimit`, the job timeout, so the
    /// source's), or the source's (`MediaFailure`).
    static func failure(_ tool: String, _ output: CommandRunner.Output, work: String) -> any Error {
        let stderr = output.stderr
        let outOfSpace = ["No space left on device", "Disk quota exceeded"].contains { stderr.contains($0) }
        if outOfSpace || isNearlyFull(work) { return diskFull(tool, stderr) }
        switch output.signal {
        case nil: return MediaFailure("\(tool): \(stderr)")
        case SIGXCPU: return MediaFailure("\(tool): its CPU time ran out (the job timeout, --job-timeout-ms)")
        case let signal?: return MediaToolKilled(tool: tool, signal: signal)
        }
    }

    /// Whether the file system holding `folder` has less than `nearlyFullBytes` free
    /// for this process (root may also write the blocks reserved for root), or no
    /// inode left (where it counts them: `f_files` > 0).
    static func isNearlyFull(_ folder: String) -> Bool {
        var fs = statvfs()
        guard statvfs(folder, &fs) == 0 else { return false }
        let root = geteuid() == 0
        let blocks = root ? UInt64(fs.f_bfree) : UInt64(fs.f_bavail)
        let inodes = root ? UInt64(fs.f_ffree) : UInt64(fs.f_favail)
        return blocks * UInt64(fs.f_frsize) < nearlyFullBytes || (fs.f_files > 0 && inodes == 0)
    }

    private static func diskFull(_ tool: String, _ detail: String) -> BlobError {
        let text = detail.trimmingCharacters(in: .whitespacesAndNewlines).prefix(512)
        return BlobError("\(tool) ran out of disk space in the work folder: \(text)", errno: ENOSPC)
    }

    /// A deadline that passed is the source's failure (it would time out again).
    /// A tool that could not start because its output files could not be created in
    /// a full work folder is the disk's failure too.
    private func timed<T>(_ work: String, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch CommandRunner.Interrupted.timedOut {
            throw MediaFailure("timed out (--job-timeout-ms)")
        } catch CommandRunner.Interrupted.cannotStart(let why) where Self.isNearlyFull(work) {
            throw Self.diskFull("a media tool", why)
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

/// A media tool ended by a signal that the worker did not send: the kernel's
/// out-of-memory killer (SIGKILL), a crash (SIGSEGV, SIGABRT, SIGBUS), an
/// operator. Neither the source's fault for sure nor the disk's, so the job runs
/// again (NAK, with the runtime's backoff); `VideoProcessor` fails the video once
/// `attempts` deliveries in a row ended so, or at the group's last delivery if that
/// comes first (`--max-deliveries` under 3), before the broker would dead-letter
/// the upload and leave the video `processing`.
public struct MediaToolKilled: Error, Sendable, CustomStringConvertible {
    public static let attempts: UInt32 = 3
    public let tool: String
    public let signal: Int32

    public var description: String {
        let name = String(cString: strsignal(signal))
        let hint =
            signal == SIGKILL ? " (the kernel's out-of-memory killer sends it: is the machine short of memory?)" : ""
        return "\(tool) was killed by signal \(signal), \(name)\(hint)"
    }
}

extension FFmpegStep {
    /// Why the worker cannot run its jobs: a tool that does not start.
    public struct ToolMissing: Error, CustomStringConvertible {
        public let description: String
    }

    /// Runs `ffmpeg -version` and `ffprobe -version` (each within 10 s) in `workRoot`,
    /// so that a worker without them refuses to start instead of taking uploads
    /// whose jobs can never run (each would be retried and dead-lettered, and its
    /// video left `processing`).
    public func checkTools() async throws {
        try FileManager.default.createDirectory(atPath: workRoot, withIntermediateDirectories: true)
        for (tool, option) in [(ffmpeg, "--ffmpeg"), (ffprobe, "--ffprobe")] {
            let why: String
            do {
                let output = try await CommandRunner.run(
                    tool, ["-version"], workFolder: workRoot, deadline: .now + .seconds(10))
                if output.status == 0 { continue }
                why = "`\(tool) -version` exited with \(output.status): \(output.stderr.prefix(300))"
            } catch CommandRunner.Interrupted.cannotStart(let reason) {
                why = reason
            } catch {
                why = "`\(tool) -version` did not finish: \(error)"
            }
            throw ToolMissing(
                description: "\(why). The video worker runs ffmpeg and ffprobe for each upload: install them "
                    + "(Debian: apt-get install ffmpeg) or name them with \(option) PATH; --synthetic-work-ms N "
                    + "runs without them, for load tests only")
        }
    }
}
