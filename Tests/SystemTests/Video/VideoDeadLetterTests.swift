import Foundation
import GRDB
import MetroKit
import MetroProtocol
import MetroTestKit
import Testing
import VideoProcessing

#if canImport(Glibc)
    import Glibc
#endif

/// A job the broker gives up on settles its video (`ServiceDefinition.onDeadLetters`).
/// Before, a job whose worker was lost on every delivery (killed with -9, out of
/// memory) was dead-lettered and its video stayed `processing` for good.
@Suite struct VideoDeadLetterTests {
    @Test func aJobWhoseWorkerIsKilledOnEveryDeliveryFailsItsVideo() async throws {
        let tools = try TemporaryDirectory()
        let probe = try Self.workerKillingProbe(in: tools, kills: 2)
        let s = try await VideoStack(workers: 3, extra: ["--ffprobe", probe, "--max-deliveries", "2"])
        let clip = try await makeClip(in: tools, seconds: 1, size: "160x120")
        let dead = try await LiveCollector(events: s.broker.events, prefixes: ["$metro.dead.video-processing"])
        let uploaded = try await s.rpc.call(
            VideoAPI.upload, UploadRequest(ownerId: "u-1", title: "poison", path: clip))
        await s.close()
        // Read from the shared database: the rpc client's instances die one by one here.
        let shared = s.workers[0]
        func video() throws -> Video { try shared.read { try VideoStore.get(id: uploaded.videoId, in: $0) } }
        try await eventually("the video settles", timeout: .seconds(60)) { try video().status.isFinal }
        let done = try video()
        #expect(done.status == .failed)
        let reason = done.failureReason ?? ""
        #expect(reason.contains("given up after 2 deliveries"), "\(reason)")
        #expect(reason.contains("the worker handling the last was lost"), "\(reason)")
        let failedEvents = try await s.publishedVideoIDs("video.failed")
        #expect(failedEvents == [uploaded.videoId], "\(failedEvents)")
        #expect(try await s.journaledVideoIDs("video.processed").isEmpty)
        // Exactly the two workers that ran the job were killed.
        #expect(try String(contentsOfFile: tools.url.appendingPathComponent("runs").path, encoding: .utf8) == "2\n")
        #expect(s.workers.filter { isAlive($0.process.pid) }.count == 1)
        let letters = dead.events.filter { $0.topic == "$metro.dead.video-processing" }
        #expect(letters.count == 1)
        let headers = try JSONSerialization.jsonObject(with: Data(letters.first?.headers ?? [])) as? [String: String]
        #expect(headers?["reason"] == "member-lost")
        #expect(headers?["deliveries"] == "2")
    }

    /// `metro publish video.uploaded --example` names no stored video: the job is
    /// rejected, and its dead letter fails nothing and says so (it once logged
    /// "its video failed" for a video that never was).
    @Test func aDeadLetterNamingNoStoredVideoFailsNothingAndSaysSo() async throws {
        let s = try await VideoStack(workers: 1)
        defer { Task { await s.close() } }
        let publish = try MetroProcess(["publish", "video.uploaded", "--example", "--ingest", s.broker.ingest])
        #expect(await publish.waitForExit() == 0, "\(publish.stderrText)")
        let worker = s.workers[0].process
        try await eventually("the dead letter is settled") {
            worker.stderrText.contains("a job was dead-lettered: it names no stored video")
        }
        #expect(!worker.stderrText.contains("its video failed"))
        #expect(try await s.journaledVideoIDs("video.failed").isEmpty)
        #expect(publish.stderrText.contains("no stored video"), "the note says what will happen: \(publish.stderrText)")
    }

    /// A script standing for ffprobe: counts its runs in `runs`, and for the first
    /// `kills` of them kills its parent (the worker running the job) with SIGKILL;
    /// then it execs the real ffprobe (at once for `-version`, the worker's check of
    /// its tools at start).
    static func workerKillingProbe(in folder: TemporaryDirectory, kills: Int) throws -> String {
        let script = folder.url.appendingPathComponent("ffprobe-kills-worker").path
        let counter = folder.url.appendingPathComponent("runs").path
        let text = """
            #!/bin/sh
            if [ "$1" = "-version" ]; then exec ffprobe "$@"; fi
            n=$(cat '\(counter)' 2>/dev/null || echo 0)
            n=$((n + 1))
            echo "$n" > '\(counter)'
            if [ "$n" -le \(kills) ]; then kill -9 $PPID; exit 1; fi
            exec ffprobe "$@"

            """
        try text.write(toFile: script, atomically: true, encoding: .utf8)
        guard chmod(script, 0o755) == 0 else { throw WaitError.unexpected("chmod \(script): errno \(errno)") }
        return script
    }
}
