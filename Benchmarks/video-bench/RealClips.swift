import BenchSupport
import Foundation
import GRDB
import MetroKit
import VideoProcessing

extension VideoBench {
    /// Median seconds per 2-second clip: through one worker (`--jobs 1`, upload
    /// by path until processed) and directly (ffprobe + the two ffmpeg runs with
    /// the worker's own arguments, one after the other).
    static func real(_ stack: BenchStack, _ o: Options) async throws {
        let work = "\(stack.folder)/clips"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let clip = "\(work)/clip.mp4"
        try check(
            await CommandRunner.run(
                "ffmpeg",
                [
                    "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=duration=2:size=320x240:rate=25",
                    "-f", "lavfi", "-i", "sine=duration=2", "-c:v", "libx264", "-c:a", "aac", "-pix_fmt", "yuv420p",
                    clip,
                ], workFolder: work, deadline: .now + .seconds(120)))
        let worker = try stack.worker(instance: "real-1", data: "real", extra: ["--jobs", "1"])
        let client = try RpcClient(endpoints: [worker.ready["rpc"]!], service: "video")
        // Alternating, one of each per round: the machine's load (shared with
        // other builds) changes over a run, and hits both paths alike this way.
        var direct: [Double] = []
        var through: [Double] = []
        for i in 0..<o.clips {
            direct.append(try await runDirect(clip, work: work))
            let start = ContinuousClock.now
            let video = try await client.call(
                VideoAPI.upload, UploadRequest(ownerId: "bench", title: "clip \(i)", path: clip))
            while try await client.call(VideoAPI.get, GetVideoRequest(videoId: video.videoId)).status != .processed {
                try await Task.sleep(for: .milliseconds(5))
            }
            through.append(seconds(ContinuousClock.now - start))
        }
        await client.close()
        stack.stop(worker)
        let d = median(direct)
        let w = median(through)
        print("\nreal ffmpeg, 2-second 320x240 H.264+AAC clip, \(o.clips) runs each (median)")
        print("path                                    s per clip   vs direct")
        print(pad("ffprobe + 2 × ffmpeg, run directly", 40) + String(format: "%10.3f", d))
        print(pad("metro worker video (upload → processed)", 40) + String(format: "%10.3f   %9.2f", w, w / d))
    }

    /// ffprobe, then the thumbnail and preview runs, with the worker's arguments; seconds.
    static func runDirect(_ clip: String, work: String) async throws -> Double {
        let start = ContinuousClock.now
        let probe = try check(
            await CommandRunner.run(
                "ffprobe", FFmpegStep.probeArguments(clip), workFolder: work, deadline: .now + .seconds(60)))
        let media = try ProbeParser.parse(probe.stdout)
        let common = FFmpegStep.commonArguments(timeLimitSeconds: 120)
        try check(
            await CommandRunner.run(
                "ffmpeg", common + FFmpegStep.thumbnailArguments(clip, media: media, output: "\(work)/t.jpg"),
                workFolder: work, deadline: .now + .seconds(60)))
        try check(
            await CommandRunner.run(
                "ffmpeg", common + FFmpegStep.previewArguments(clip, output: "\(work)/p.mp4"), workFolder: work,
                deadline: .now + .seconds(60)))
        return seconds(ContinuousClock.now - start)
    }

    @discardableResult
    static func check(_ out: CommandRunner.Output) throws -> CommandRunner.Output {
        guard out.status == 0 else { throw BenchError("command failed: \(out.stderr)") }
        return out
    }
}

/// `--uploads N --work-ms N --jobs N --clips N`.
struct Options {
    var uploads = 400
    var workMs = 10
    var jobs = ProcessInfo.processInfo.activeProcessorCount
    var clips = 5

    init(_ arguments: ArraySlice<String>) {
        var it = arguments.makeIterator()
        while let flag = it.next() {
            let value = it.next().flatMap { Int($0) }
            switch (flag, value) {
            case ("--uploads", let v?): uploads = v
            case ("--work-ms", let v?): workMs = v
            case ("--jobs", let v?): jobs = v
            case ("--clips", let v?): clips = v
            default:
                print("usage: metro-video-bench [--uploads N] [--work-ms N] [--jobs N] [--clips N]")
                exit(2)
            }
        }
    }
}

/// The video bench's workers and their database, on the shared bench stack.
extension BenchStack {
    func worker(instance: String, data: String, extra: [String]) throws -> ChildProcess {
        try worker("video", instance: instance, data: data, extra: extra)
    }

    func database(_ data: String) -> String { "\(folder)/\(data)/video/video.sqlite" }
}

/// Hands out 0..<n once each, to several threads.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var next = 0
    func take(below n: Int) -> Int? {
        lock.lock()
        defer { lock.unlock() }
        guard next < n else { return nil }
        next += 1
        return next - 1
    }
}

func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }
func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count) }
