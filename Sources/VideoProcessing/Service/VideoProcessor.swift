import Foundation
import Logging
import MetroRuntime

/// The `video.uploaded` handler: one job per upload.
///
/// 1. the video moves to `processing` (its own small commit, so `video.get`
///    shows it; a rerun after a crash finds it there and runs again);
/// 2. the media step runs (ffmpeg or synthetic), bounded by the job timeout;
/// 3. one inbox commit: status `processed` + `video.processed`, or `failed` +
///    `video.failed`. The inbox makes this commit happen once per event even if
///    two members run the job (a redelivery after an ACK timeout): the second
///    finds the event handled and changes nothing, so each upload has exactly
///    one outcome event.
///
/// An unknown video id or an undecodable payload is dead-lettered; a full disk
/// (a blob, the tools' work folder: `BlobError.diskFull`) holds the event, which
/// the runtime runs again here until it gets through (`StorageUnavailable`), so
/// that a disk that fills never fails a video or dead-letters its upload; a tool
/// killed by a signal (out of memory?) NAKs the event, and fails the video at the
/// third attempt (`MediaToolKilled`); a shutdown or any other error NAKs the event
/// (it runs again elsewhere), except on the group's last delivery, where a NAK
/// would dead-letter the upload and leave its video `processing` for good: there
/// the video fails with the error as its reason (a shutdown still NAKs).
struct VideoProcessor: Sendable {
    let step: any MediaStep
    let jobTimeout: Duration
    let clock: @Sendable () -> Int64

    @Sendable func handle(_ event: IncomingEvent<VideoUploaded>, _ context: EventContext) async throws {
        // A prefix subscription: `video.uploadedX` is another topic.
        guard event.topic == VideoTopics.uploaded else { return }
        let id = event.payload.videoId
        let video: Video
        do {
            video = try await context.store.write { [clock] tx in
                try VideoStore.markProcessing(id: id, nowMs: clock(), in: tx.db)
            }
        } catch let error as VideoError {
            throw EventRejection(error.message)
        }
        // Final already: a late duplicate under another event id; nothing to redo.
        guard !video.status.isFinal else { return }
        let started = ContinuousClock.now
        let outcome: Result<MediaOutputs, MediaFailure>
        do {
            outcome = .success(try await step.process(sourceBlobId: video.sourceBlobId, deadline: started + jobTimeout))
        } catch let failure as MediaFailure {
            outcome = .failure(failure)
        } catch let error as BlobError where error.diskFull {
            throw StorageUnavailable("the video service's disk is full: \(error)")
        } catch let killed as MediaToolKilled {
            // Runs again (NAK) unless this was the last attempt this job gets: the
            // third, or the group's last delivery (a NAK then would dead-letter it).
            guard event.attempt >= MediaToolKilled.attempts || event.isLastAttempt else { throw killed }
            outcome = .failure(MediaFailure("\(killed), on each of \(event.attempt) attempts"))
        } catch  where event.isLastAttempt && !Self.isShutdown(error) {
            outcome = .failure(
                MediaFailure("processing failed on each of its \(event.attempt) deliveries; the last: \(error)"))
        }
        context.logger.info(
            "job done",
            metadata: [
                "video": "\(id)", "took": "\(ContinuousClock.now - started)",
                "ok": "\((try? outcome.get()) != nil)",
            ])
        try await context.commit { [clock] tx in
            let now = clock()
            switch outcome {
            case .success(let outputs):
                guard let done = try VideoStore.markProcessed(id: id, outputs: outputs, nowMs: now, in: tx.db) else {
                    return
                }
                try tx.publish(
                    topic: VideoTopics.processed,
                    event: VideoProcessed(video: done, outputs: outputs, processedAtMs: now),
                    schema: VideoTopics.schema)
            case .failure(let failure):
                guard let done = try VideoStore.markFailed(id: id, reason: failure.reason, nowMs: now, in: tx.db) else {
                    return
                }
                try tx.publish(
                    topic: VideoTopics.failed,
                    event: VideoFailed(videoId: id, ownerId: done.ownerId, reason: failure.reason, failedAtMs: now),
                    schema: VideoTopics.schema)
            }
        }
    }

    /// The dead letter of a job (group `video-processing`): the broker gave up on it,
    /// most often because the worker running it was lost on every delivery (killed
    /// with -9, out of memory, stopped). Its video fails with the dead letter's
    /// explanation and `video.failed` is published, in one commit, unless the video
    /// is final already (a late job finished it) or gone.
    @Sendable func settle(_ letter: DeadLetter<VideoUploaded>, _ context: EventContext) async throws {
        guard letter.topic == VideoTopics.uploaded else { return }
        let id = letter.payload.videoId
        let reason = "processing was \(letter.explanation)"
        let settled = try await context.commit { [clock] tx -> Settled in
            let now = clock()
            let failed: Video?
            do {
                failed = try VideoStore.markFailed(id: id, reason: reason, nowMs: now, in: tx.db)
            } catch let error as VideoError where error.kind == .notFound {
                return .noSuchVideo
            }
            guard let done = failed else {
                return .final(try VideoStore.get(id: id, in: tx.db).status)
            }
            try tx.publish(
                topic: VideoTopics.failed,
                event: VideoFailed(videoId: id, ownerId: done.ownerId, reason: reason, failedAtMs: now),
                schema: VideoTopics.schema)
            return .failed
        }
        var metadata: Logger.Metadata = [
            "video": "\(id)", "reason": "\(letter.reason)", "deliveries": "\(letter.deliveries)",
        ]
        switch settled {
        case .failed?:
            context.logger.warning("a job was dead-lettered: its video failed", metadata: metadata)
        case .final(let status)?:
            metadata["status"] = "\(status.rawValue)"
            context.logger.notice(
                "a job was dead-lettered: its video was \(status.rawValue) already", metadata: metadata)
        case .noSuchVideo?:
            context.logger.warning(
                "a job was dead-lettered: it names no stored video (an event not from an upload?), nothing to fail",
                metadata: metadata)
        case nil:
            break  // settled before (a redelivered dead letter): logged then
        }
    }

    /// What settling a dead-lettered job did.
    enum Settled: Sendable {
        case failed
        case final(VideoStatus)
        case noSuchVideo
    }

    /// The worker is stopping: the job did not fail, it was cut short.
    static func isShutdown(_ error: any Error) -> Bool {
        error is CancellationError || (error as? CommandRunner.Interrupted) == .stopped
    }
}
