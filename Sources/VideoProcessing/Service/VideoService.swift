public import Foundation
import Logging
import MetroKit
import MetroProtocol
public import MetroRuntime

/// The video service on the runtime: its tables, the `video.*` rpc methods, the
/// `video.uploaded` handler (group `video-processing`) and the storage sweep
/// (`VideoJanitor`). `metro worker video` runs it.
public enum VideoService {
    /// What an instance needs besides the runtime's configuration.
    public struct Settings: Sendable {
        /// The runtime's data folder: blobs, part files and scratch live under `<data>/video/`.
        public var dataFolder: String
        /// Jobs at once (the handler's concurrency and the group's credit).
        public var jobs: Int
        /// The most one job (probe + thumbnail + preview) may take; then it fails.
        public var jobTimeout: Duration
        public var media: MediaMode
        /// The storage sweep's ages and interval (`VideoJanitor`).
        public var sweep: VideoJanitor.Policy

        public init(
            dataFolder: String, jobs: Int = ProcessInfo.processInfo.activeProcessorCount,
            jobTimeout: Duration = .seconds(120), media: MediaMode = .ffmpeg(ffmpeg: "ffmpeg", ffprobe: "ffprobe"),
            sweep: VideoJanitor.Policy = .init()
        ) {
            self.dataFolder = dataFolder
            self.jobs = jobs
            self.jobTimeout = jobTimeout
            self.media = media
            self.sweep = sweep
        }

        public var blobs: BlobStore { BlobStore(dataFolder: dataFolder) }
        public var uploads: UploadFiles { UploadFiles(dataFolder: dataFolder) }

        /// The step `media` names.
        public var step: any MediaStep {
            switch media {
            case .ffmpeg(let ffmpeg, let ffprobe):
                return FFmpegStep(
                    ffmpeg: ffmpeg, ffprobe: ffprobe, blobs: blobs,
                    workRoot: FFmpegStep.workRoot(dataFolder: dataFolder))
            case .synthetic(let workMs):
                return SyntheticStep(workMs: workMs, blobs: blobs)
            }
        }
    }

    /// Milliseconds since the Unix epoch, now.
    public static let systemClock: @Sendable () -> Int64 = {
        Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
    }

    public static func definition(_ settings: Settings, clock: @escaping @Sendable () -> Int64 = systemClock)
        -> ServiceDefinition
    {
        var service = ServiceDefinition(name: VideoProcessing.serviceName)
        service.migrations { VideoSchema.register(in: &$0) }
        registerQueries(on: &service)
        registerUploads(on: &service, settings: settings, clock: clock)
        registerMedia(on: &service, settings: settings)
        let processor = VideoProcessor(step: settings.step, jobTimeout: settings.jobTimeout, clock: clock)
        service.on(
            group: VideoProcessing.group, topics: [VideoTopics.uploaded], as: VideoUploaded.self,
            schema: VideoTopics.schemaMajor, concurrency: max(1, settings.jobs)
        ) { event, context in try await processor.handle(event, context) }
        // A job the broker gave up on (its worker lost on the last delivery, say)
        // fails its video, so that no video stays `processing` for good.
        service.onDeadLetters(of: VideoProcessing.group, topics: [VideoTopics.uploaded], as: VideoUploaded.self) {
            letter, context in try await processor.settle(letter, context)
        }
        let janitor = VideoJanitor(
            dataFolder: settings.dataFolder, policy: settings.sweep, jobTimeout: settings.jobTimeout, clock: clock)
        service.every(settings.sweep.interval, "storage sweep") { context in
            guard let report = try await janitor.sweep(context.store) else {
                return context.logger.debug("storage sweep skipped: another instance is sweeping")
            }
            if !report.isEmpty { context.logger.info("storage sweep removed \(report)") }
        }
        return service
    }

    /// `video.get` and `video.list`: snapshot reads of one bounded, indexed lookup
    /// each, so inline (RpcPlacement).
    static func registerQueries(on service: inout ServiceDefinition) {
        service.rpc(VideoAPI.get, placement: .inline) { request, _, store in
            try await answering { try await store.read { try VideoStore.get(id: request.videoId, in: $0) } }
        }
        service.rpc(VideoAPI.list, placement: .inline) { request, _, store in
            try await answering { try await store.read { try VideoStore.list(request, in: $0) } }
        }
    }

    /// Runs `body`, turning the domain's refusals into rpc codes in this one
    /// place: invalid → 403 bad-request, not found → 404, conflict → 405.
    static func answering<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as VideoError {
            switch error.kind {
            case .invalid: throw RpcError.badRequest(error.message)
            case .notFound: throw RpcError.notFound(error.message)
            case .conflict: throw RpcError.conflict(error.message)
            }
        } catch let error as BlobError where error.diskFull {
            // Nothing was stored (a temporary file is removed, a part file's bytes past
            // the upload's count are written again), and every method writes its files
            // before its rows: the runtime answers 205 storage-failure and logs it
            // (`rpc write refused`) like a full disk under the database.
            throw StorageUnavailable("the video service's disk is full (\(error))")
        }
    }
}
