import Foundation
import MetroKit
import MetroTestKit
import Testing
import VideoProcessing

#if canImport(Glibc)
    import Glibc
#endif

/// ffmpeg killed by a signal the worker did not send, as the kernel's out-of-memory
/// killer does (SIGKILL): `--ffmpeg` is a script that kills itself with kill -9 for
/// its first `kills` runs, then runs the real ffmpeg. Before, the video failed for
/// good at the first kill, with the reason "unknown failure" (ffmpeg wrote no
/// stderr). Now the job runs again (NAK), and the video fails, saying why, only
/// when `MediaToolKilled.attempts` deliveries in a row ended so.
@Suite(.serialized) struct VideoToolKilledTests {
    @Test func ffmpegKilledTwiceIsRunAgainAndTheVideoIsProcessed() async throws {
        let tools = try TemporaryDirectory()
        let s = try await VideoStack(extra: ["--ffmpeg", try Self.killedFFmpeg(in: tools, kills: 2)])
        let clip = try await makeClip(in: tools, seconds: 1, size: "160x120")
        try await closing(s.rpc) {
            let video = try await s.rpc.call(VideoAPI.upload, UploadRequest(ownerId: "u-1", title: "OOM", path: clip))
            let done = try await s.settled(video.videoId)
            #expect(done.status == .processed, "\(done.failureReason ?? "")")
            let stderr = s.workers[0].process.stderrText
            #expect(stderr.contains("ffmpeg was killed by signal 9"), "the NAK says why")
            #expect(try await s.publishedVideoIDs("video.processed") == [video.videoId])
            #expect(try await s.journaledVideoIDs("video.failed").isEmpty)
        }
        await s.close()
    }

    @Test func ffmpegKilledOnEveryAttemptFailsTheVideoSayingWhyBeforeItIsDeadLettered() async throws {
        try await Self.killedOnEveryAttempt(extra: [], failsAt: 3)
    }

    /// With a group allowing 2 deliveries, the second is the last: the video fails
    /// there (the broker's JOINED says how many there are), not at a third that
    /// never comes. Before, the upload was dead-lettered and the video stayed `processing`.
    @Test func aGroupOfTwoDeliveriesFailsTheVideoAtItsLast() async throws {
        try await Self.killedOnEveryAttempt(extra: ["--max-deliveries", "2"], failsAt: 2)
    }

    static func killedOnEveryAttempt(extra: [String], failsAt attempts: Int) async throws {
        let tools = try TemporaryDirectory()
        let s = try await VideoStack(extra: ["--ffmpeg", try Self.killedFFmpeg(in: tools, kills: 1000)] + extra)
        let dead = try await LiveCollector(events: s.broker.events, prefixes: ["$metro.dead.video-processing"])
        let clip = try await makeClip(in: tools, seconds: 1, size: "160x120")
        try await closing(s.rpc) {
            let video = try await s.rpc.call(VideoAPI.upload, UploadRequest(ownerId: "u-1", title: "OOM", path: clip))
            let done = try await s.settled(video.videoId)
            #expect(done.status == .failed)
            let reason = done.failureReason ?? ""
            #expect(reason.contains("ffmpeg was killed by signal 9"), "\(reason)")
            #expect(reason.contains("on each of \(attempts) attempts"), "\(reason)")
            #expect(try Self.runs(in: tools) == attempts, "one ffmpeg run per attempt, the first of each job")
            #expect(try await s.publishedVideoIDs("video.failed") == [video.videoId])
            #expect(dead.events.isEmpty)
        }
        await s.close()
    }

    /// Any error that NAKs a job (here ffprobe stops being executable after the
    /// worker's check at start, so each job's spawn fails) fails the video at the
    /// group's last delivery, saying why. Before, the upload was dead-lettered and
    /// the video stayed `processing` for good.
    @Test func aJobThatErrsOnEveryDeliveryFailsTheVideoAtTheLast() async throws {
        let tools = try TemporaryDirectory()
        let probe = tools.url.appendingPathComponent("ffprobe").path
        try "#!/bin/sh\nexec ffprobe \"$@\"\n".write(toFile: probe, atomically: true, encoding: .utf8)
        guard chmod(probe, 0o755) == 0 else { throw WaitError.unexpected("chmod \(probe): errno \(errno)") }
        let s = try await VideoStack(extra: ["--ffprobe", probe, "--max-deliveries", "2"])
        let dead = try await LiveCollector(events: s.broker.events, prefixes: ["$metro.dead.video-processing"])
        // The worker checked its tools at start; from now on ffprobe cannot be run.
        guard chmod(probe, 0o644) == 0 else { throw WaitError.unexpected("chmod \(probe): errno \(errno)") }
        let clip = try await makeClip(in: tools, seconds: 1, size: "160x120")
        try await closing(s.rpc) {
            let video = try await s.rpc.call(
                VideoAPI.upload, UploadRequest(ownerId: "u-1", title: "EACCES", path: clip))
            let done = try await s.settled(video.videoId)
            #expect(done.status == .failed)
            let reason = done.failureReason ?? ""
            #expect(reason.contains("processing failed on each of its 2 deliveries"), "\(reason)")
            #expect(reason.contains("cannot be run: Permission denied"), "\(reason)")
            #expect(try await s.publishedVideoIDs("video.failed") == [video.videoId])
            #expect(dead.events.isEmpty)
        }
        await s.close()
    }

    /// A worker whose ffmpeg cannot run refuses to start, saying what to do. Before,
    /// it started and took uploads whose jobs could never run: each was NAKed to
    /// the dead-letter topic and its video stayed `processing`.
    @Test func aWorkerWhoseFFmpegCannotRunRefusesToStartSayingWhy() async throws {
        let data = try TemporaryDirectory()
        for (flag, tool) in [("--ffmpeg", "/nonexistent/ffmpeg"), ("--ffprobe", "/nonexistent/ffprobe")] {
            // No broker or registry: the check comes before anything connects.
            let p = try MetroProcess(["worker", "video", "--data", data.path, flag, tool])
            #expect(await p.waitForExit() == 78, "EX_CONFIG: metro up does not restart it")
            try await eventually("the reason on stderr") { p.stderrText.contains("apt-get install ffmpeg") }
            #expect(p.stderrText.contains("\(tool) cannot be run: No such file or directory"), "\(p.stderrText)")
            #expect(p.stderrText.contains("\(flag) PATH"))
        }
    }

    /// A script standing for ffmpeg: counts its runs in `runs`, kills itself with
    /// SIGKILL for the first `kills` of them, then execs the real ffmpeg (at once
    /// for `-version`, the worker's check of its tools at start).
    static func killedFFmpeg(in folder: TemporaryDirectory, kills: Int) throws -> String {
        let script = folder.url.appendingPathComponent("ffmpeg-killed").path
        let counter = folder.url.appendingPathComponent("runs").path
        let text = """
            #!/bin/sh
            # The worker's check at start (`ffmpeg -version`) is not a job's run.
            if [ "$1" = "-version" ]; then exec ffmpeg "$@"; fi
            n=$(cat '\(counter)' 2>/dev/null || echo 0)
            n=$((n + 1))
            echo "$n" > '\(counter)'
            if [ "$n" -le \(kills) ]; then kill -9 $$; fi
            exec ffmpeg "$@"

            """
        try text.write(toFile: script, atomically: true, encoding: .utf8)
        guard chmod(script, 0o755) == 0 else { throw WaitError.unexpected("chmod \(script): errno \(errno)") }
        return script
    }

    /// How many times the script ran.
    static func runs(in folder: TemporaryDirectory) throws -> Int {
        let text = try String(contentsOfFile: folder.url.appendingPathComponent("runs").path, encoding: .utf8)
        return Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    }
}
