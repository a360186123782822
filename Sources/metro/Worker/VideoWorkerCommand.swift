import ArgumentParser
import Foundation
import MetroRuntime
import VideoProcessing

/// `metro worker video`: one instance of the video-processing service (issue 15):
/// rpc `video.upload`, `video.upload.begin|chunk|finish`, `video.get|list`;
/// `video.uploaded` in group `video-processing` → ffprobe + ffmpeg (or the
/// synthetic step) → `video.processed` | `video.failed` through the outbox. Its
/// database is `<data>/video/video.sqlite`, its blobs `<data>/video/blobs/`;
/// instances on one host share both (docs/operations.md, "Video worker").
struct WorkerVideoCommand: MetroCommand {
    static let configuration = CommandConfiguration(
        commandName: "video", abstract: "Run the video-processing service (uploads, ffmpeg jobs).")

    @OptionGroup var worker: WorkerOptions
    @OptionGroup var global: GlobalOptions

    @Option(help: "Jobs at once (default: the number of cores).")
    var jobs: Int = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "The most one job (probe, thumbnail, preview) may take, in milliseconds; then the video fails.")
    var jobTimeoutMs = 120_000
    @Option(
        help: """
            SYNTHETIC, for load tests only: a CPU-bound step of this many milliseconds instead of ffmpeg \
            (outputs derived from the source; videos marked synthetic).
            """)
    var syntheticWorkMs: Int?
    @Option(help: "The ffmpeg executable (default: ffmpeg on PATH).")
    var ffmpeg = "ffmpeg"
    @Option(help: "The ffprobe executable (default: ffprobe on PATH).")
    var ffprobe = "ffprobe"

    @Option(help: "How often the storage sweep runs (docs/operations.md, \"Video worker\"), in ms.")
    var sweepIntervalMs: Int64 = 600_000
    @Option(help: "An upload idle (no chunk, no finish) for this long is removed with its part file, in ms.")
    var uploadExpiryMs: Int64 = 86_400_000
    @Option(
        help: """
            Files left by failures (blobs no video names, unfinished blob writes) are removed once this old, \
            in ms; job folders once this plus the job timeout.
            """)
    var sweepGraceMs: Int64 = 3_600_000

    func validate() throws {
        guard sweepIntervalMs >= 1, uploadExpiryMs >= 1, sweepGraceMs >= 1 else {
            throw ValidationError("--sweep-interval-ms, --upload-expiry-ms and --sweep-grace-ms must be at least 1")
        }
        guard jobs >= 1 else { throw ValidationError("--jobs must be at least 1") }
        guard jobTimeoutMs >= 1 else { throw ValidationError("--job-timeout-ms must be at least 1") }
        if let ms = syntheticWorkMs, ms < 0 { throw ValidationError("--synthetic-work-ms must not be negative") }
    }

    func run(_ process: ProcessBootstrap) async throws {
        let media = syntheticWorkMs.map { MediaMode.synthetic(workMs: $0) } ?? .ffmpeg(ffmpeg: ffmpeg, ffprobe: ffprobe)
        var settings = VideoService.Settings(
            dataFolder: worker.data, jobs: jobs, jobTimeout: .milliseconds(jobTimeoutMs), media: media)
        settings.sweep.interval = .milliseconds(sweepIntervalMs)
        settings.sweep.uploadExpiry = .milliseconds(uploadExpiryMs)
        settings.sweep.grace = .milliseconds(sweepGraceMs)
        if let step = settings.step as? FFmpegStep {
            do {
                try await step.checkTools()
            } catch let missing as FFmpegStep.ToolMissing {
                // A setup error a restart does not fix: `metro up` stops instead of looping.
                throw SetupError(missing.description).exit()
            }
        }
        var configuration = worker.configuration()
        // A job may take up to its timeout: the group's ACK deadline (when this
        // instance creates the group) must outlast it, or the broker would hand
        // a running job to another member.
        configuration.ackTimeout = .milliseconds(jobTimeoutMs + 30_000)
        try await runWorker(
            VideoService.definition(settings), options: worker, configuration: configuration, process: process)
    }
}
