// metro-video-bench (issue 15): the video worker against its baselines, with
// real processes (`metro broker`, `metro registry`, `metro worker video`).
//
// 1. Synthetic mode: uploads processed per second with 1 and 2 workers
//    (`--synthetic-work-ms W --jobs J`), from the first `video.upload` until
//    every video is `processed`, against the same synthetic step (blob put +
//    SyntheticStep.run) run in-process on as many threads as the workers run jobs.
// 2. Real ffmpeg: time per 2-second clip (upload by path → processed, one at a
//    time) against the same ffprobe + ffmpeg commands run directly from here.
//
//   swift build -c release --scratch-path .build-release --product metro
//   swift build -c release --scratch-path .build-release --product metro-video-bench
//   .build-release/release/metro-video-bench [--uploads 400] [--work-ms 10] [--jobs 2] [--clips 5]
import BenchSupport
import Foundation
import GRDB
import MetroKit
import VideoProcessing

@main
struct VideoBench {
    static func main() async throws {
        let options = Options(CommandLine.arguments.dropFirst())
        print(
            "\(ProcessInfo.processInfo.activeProcessorCount) cores, load average \(loadAverage()) at start; "
                + "broker with its default configuration (journal fsync by its policy)")
        let stack = try BenchStack()
        defer { stack.stop() }
        try await synthetic(stack, options)
        try await real(stack, options)
    }

    static func synthetic(_ stack: BenchStack, _ o: Options) async throws {
        print("\nsynthetic step \(o.workMs) ms, \(o.uploads) uploads of 4 KiB, --jobs \(o.jobs) per worker")
        print("path                                    uploads/s   vs in-process")
        for workers in [1, 2] {
            let base = try baseline(
                uploads: o.uploads, workMs: o.workMs, threads: workers * o.jobs, folder: stack.folder)
            print(pad("in-process step, \(workers * o.jobs) threads", 40) + String(format: "%9.0f", base))
            let data = "synthetic-\(workers)"
            var started: [ChildProcess] = []
            for i in 1...workers {
                started.append(
                    try stack.worker(
                        instance: "syn\(workers)-\(i)", data: data,
                        extra: ["--synthetic-work-ms", "\(o.workMs)", "--jobs", "\(o.jobs)"]))
            }
            let rate = try await throughWorkers(started, uploads: o.uploads, database: stack.database(data))
            for w in started { stack.stop(w) }
            print(
                pad("metro worker video × \(workers)", 40)
                    + String(format: "%9.0f   %13.2f", rate, rate / base))
        }
    }

    /// Uploads per second through real workers: `uploads` inline uploads from 8
    /// concurrent callers, until every video is processed.
    static func throughWorkers(_ workers: [ChildProcess], uploads: Int, database: String) async throws -> Double {
        let client = try RpcClient(endpoints: workers.map { $0.ready["rpc"]! }, service: "video")
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for caller in 0..<8 {
                group.addTask {
                    for i in stride(from: caller, to: uploads, by: 8) {
                        let body = Data(source(i)).base64EncodedString()
                        _ = try await client.call(
                            VideoAPI.upload, UploadRequest(ownerId: "bench", title: "v\(i)", data: body))
                    }
                }
            }
            try await group.waitForAll()
        }
        let db = try DatabaseQueue(path: database)
        while try await db.read({ try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM videos WHERE status = 'processed'") })
            ?? 0 < uploads
        {
            try await Task.sleep(for: .milliseconds(5))
        }
        let elapsed = seconds(ContinuousClock.now - start)
        try db.close()
        await client.close()
        return Double(uploads) / elapsed
    }

    /// The same work in-process: store each source, run the step, on `threads` threads.
    static func baseline(uploads: Int, workMs: Int, threads: Int, folder: String) throws -> Double {
        let blobs = BlobStore(dataFolder: "\(folder)/baseline-\(threads)")
        let next = Counter()
        let start = ContinuousClock.now
        let group = DispatchGroup()
        for _ in 0..<threads {
            group.enter()
            Thread.detachNewThread {
                while let i = next.take(below: uploads) {
                    let id = try! blobs.put(source(i))
                    _ = try! SyntheticStep.run(id, workMs: workMs, blobs: blobs)
                }
                group.leave()
            }
        }
        group.wait()
        return Double(uploads) / seconds(ContinuousClock.now - start)
    }

    static func source(_ i: Int) -> [UInt8] {
        Array("bench source \(i) ".utf8) + [UInt8](repeating: UInt8(truncatingIfNeeded: i), count: 4096)
    }
}
