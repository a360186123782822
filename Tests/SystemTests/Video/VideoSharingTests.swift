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

/// Several `metro worker video` instances on one data folder, in synthetic mode
/// (`--synthetic-work-ms`): work sharing, exactly-once outcomes across kill -9,
/// and garbage on `video.uploaded`. Serialized: four processes per test.
@Suite(.serialized) struct VideoSharingTests {
    /// `count` small uploads with distinct bytes, inline; their video ids.
    static func upload(_ count: Int, to s: VideoStack) async throws -> [String] {
        var ids: [String] = []
        for i in 0..<count {
            let data = Data("synthetic source \(i)".utf8).base64EncodedString()
            ids.append(
                try await s.rpc.call(VideoAPI.upload, UploadRequest(ownerId: "u-\(i % 7)", title: "v\(i)", data: data))
                    .videoId)
        }
        return ids
    }

    /// Every id processed exactly once: one row each, processed, and one
    /// `video.processed` per id in the journal.
    static func expectProcessedOnce(_ ids: [String], _ s: VideoStack) async throws {
        try await eventually("all processed", timeout: .seconds(120)) {
            try s.statusCounts()["processed"] == ids.count
        }
        // A committed outcome reaches the journal when the outbox relay has sent it
        // (after a kill -9, the restarted instance's relay sends what the dead one had not).
        try await eventually("every video.processed journaled", timeout: .seconds(30), interval: .milliseconds(200)) {
            try await s.journaledVideoIDs("video.processed").count >= ids.count
        }
        let events = try await s.journaledVideoIDs("video.processed")
        #expect(events.count == ids.count)
        #expect(Set(events) == Set(ids))
        #expect(try s.statusCounts() == ["processed": ids.count])
        #expect(try await s.journaled("video.failed").isEmpty)
    }

    @Test func twoWorkersShare200UploadsAndNoneIsProcessedTwice() async throws {
        let s = try await VideoStack(workers: 2, extra: ["--synthetic-work-ms", "5", "--jobs", "4"])
        try await closing(s.rpc) {
            let ids = try await Self.upload(200, to: s)
            try await Self.expectProcessedOnce(ids, s)
            // Both took a share (each logs "job done" per job).
            for worker in s.workers { #expect(await worker.process.stderrShows("job done")) }
            let inbox = try s.workers[0].read {
                try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM metro_inbox WHERE consumer_group = 'video-processing'")
            }
            #expect(inbox == 200)
            let video = try await s.get(ids[0])
            #expect(video.synthetic == true && video.media?.videoCodec == "synthetic")
        }
        await s.close()
    }

    @Test func aWorkerKilledMidBatchLeavesEveryUploadProcessedExactlyOnce() async throws {
        // ACK deadline = job timeout + 30 s; the lost member's deliveries come back on member loss first.
        // 500 ms jobs, 2 per worker: the 80 take ~10 s, so the batch is still running when the
        // uploads are done and 10 are processed (with 40 ms jobs, a loaded machine sometimes
        // finished all 80 before the kill).
        let extra = ["--synthetic-work-ms", "500", "--jobs", "2", "--job-timeout-ms", "5000"]
        let s = try await VideoStack(workers: 2, extra: extra)
        try await closing(s.rpc) {
            let ids = try await Self.upload(80, to: s)
            try await eventually("some processed") { (try s.statusCounts()["processed"] ?? 0) >= 10 }
            s.workers[0].process.kill(SIGKILL)
            _ = await s.workers[0].exit()
            #expect((try s.statusCounts()["processed"] ?? 0) < 80)  // killed mid-batch
            try await s.workers[0].restart(instance: "video-1b", extra: extra)
            try await Self.expectProcessedOnce(ids, s)
        }
        await s.close()
    }

    @Test func garbageOnVideoUploadedIsDeadLetteredAndTheWorkerKeepsServing() async throws {
        let s = try await VideoStack(extra: ["--synthetic-work-ms", "1"])
        let dead = try await LiveCollector(events: s.broker.events, prefixes: ["$metro.dead.video-processing"])
        let publisher = try Publisher(.init(ingest: s.broker.ingest))
        try await closing(s.rpc, dead, publisher) {
            let unknown =
                #"{"videoId":"ghost","ownerId":"u","title":"t","tags":[],"contentType":"video/mp4","sizeBytes":1,"sourceBlobId":"00","uploadedAtMs":1}"#
            for (id, payload, headers) in [
                ("not-json", "{nope", ""), ("wrong-shape", #"{"videoId":7}"#, ""), ("ghost", unknown, ""),
                ("major-2", unknown, #"{"schema":"2.0"}"#),
            ] {
                _ = try await publisher.publish(
                    topic: "video.uploaded", payload: bytes(payload), headers: bytes(headers), eventID: bytes(id))
            }
            try await eventually("four dead letters") { dead.events.count == 4 }
            var details: [String: String] = [:]
            for letter in dead.events {
                let headers = try JSONDecoder().decode([String: String].self, from: Data(letter.headers))
                #expect(headers["reason"] == "rejected" && headers["deliveries"] == "1")
                details[String(decoding: letter.eventID, as: UTF8.self)] = headers["detail"]
            }
            #expect(details["ghost"] == "no video ghost")
            #expect(details["not-json"]?.contains("JSON") == true)
            #expect(details["major-2"]?.contains("schema") == true)
            // Still serving: a real upload goes through.
            let ids = try await Self.upload(1, to: s)
            #expect(try await s.settled(ids[0]).status == .processed)
        }
        await s.close()
    }
}
