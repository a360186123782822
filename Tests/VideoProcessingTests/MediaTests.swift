import Foundation
import Testing
import VideoProcessing

#if canImport(Glibc)
    import Glibc
#endif

/// ffprobe's parser, the command runner and both media steps, with the real
/// ffmpeg/ffprobe on a clip made in the test. One at a time (ffmpeg is CPU-heavy on 2 cores).
@Suite(.serialized) struct MediaTests {
    @Test func ffprobeOutputOfARealClipParses() async throws {
        let folder = try TestFolder()
        let clip = try await folder.clip()
        let probe = try await CommandRunner.run(
            "ffprobe", ["-v", "error", "-print_format", "json", "-show_format", "-show_streams", clip],
            workFolder: folder.path, deadline: .now + .seconds(30))
        #expect(probe.status == 0)
        let media = try ProbeParser.parse(probe.stdout)
        #expect(abs(media.durationSeconds - 2) < 0.1)
        #expect(media.width == 320 && media.height == 240)
        #expect(media.videoCodec == "h264" && media.audioCodec == "aac")
        #expect(media.frameRate == 25 && media.bitRate > 0)
    }

    @Test func garbageIsAFailureWithAReason() {
        #expect(throws: MediaFailure("ffprobe's output is not JSON")) { try ProbeParser.parse(Array("nope".utf8)) }
        #expect(throws: MediaFailure("ffprobe's output is not a JSON object")) {
            try ProbeParser.parse(Array("[]".utf8))
        }
        #expect(throws: MediaFailure("no video stream")) { try ProbeParser.parse(Array("{}".utf8)) }
        let audioOnly = #"{"streams":[{"codec_type":"audio","codec_name":"mp3"}],"format":{"duration":"3.0"}}"#
        #expect(throws: MediaFailure("no video stream")) { try ProbeParser.parse(Array(audioOnly.utf8)) }
        let noSize = #"{"streams":[{"codec_type":"video","codec_name":"h264"}],"format":{"duration":"3.0"}}"#
        #expect(throws: MediaFailure("the video stream has no size")) { try ProbeParser.parse(Array(noSize.utf8)) }
        #expect(ProbeParser.rate("0/0") == nil && ProbeParser.rate("30000/1001")! > 29.97)
    }

    @Test func aCommandPastItsDeadlineIsKilledAndReaped() async throws {
        let folder = try TestFolder()
        let start = ContinuousClock.now
        await #expect(throws: CommandRunner.Interrupted.timedOut) {
            _ = try await CommandRunner.run(
                "sleep", ["29.5371"], workFolder: folder.path, deadline: .now + .milliseconds(300))
        }
        // Killed at its deadline, not left to end by itself (29.5 s); the bound is loose because
        // at the suite's start every test waits seconds for the pool (14 s seen once).
        #expect(ContinuousClock.now - start < .seconds(25))
        // That child is gone, running or zombie (other suites' children may be around).
        #expect(Self.children(withArgument: "29.5371").isEmpty)
    }

    @Test func stderrAndTheStatusComeBack() async throws {
        let folder = try TestFolder()
        let out = try await CommandRunner.run(
            "sh", ["-c", "echo out; echo err >&2; exit 3"], workFolder: folder.path, deadline: .now + .seconds(10))
        #expect(out.status == 3 && out.stdout == Array("out\n".utf8) && out.stderr == "err\n")
        await #expect(throws: CommandRunner.Interrupted.self) {
            _ = try await CommandRunner.run(
                "no-such-tool-xyz", [], workFolder: folder.path, deadline: .now + .seconds(5))
        }
    }

    @Test func theFFmpegStepIsDeterministicAcrossRuns() async throws {
        let folder = try TestFolder()
        let clip = try await folder.clip()
        var results: [MediaOutputs] = []
        for run in 1...2 {
            // Separate stores: the second run cannot find the first's outputs.
            let blobs = BlobStore(root: "\(folder.path)/run\(run)/blobs")
            let source = try blobs.put(copying: clip).id
            let step = FFmpegStep(blobs: blobs, workRoot: "\(folder.path)/run\(run)/work")
            let outputs = try await step.process(sourceBlobId: source, deadline: .now + .seconds(120))
            #expect(blobs.contains(outputs.thumbnailBlobId) && blobs.contains(outputs.previewBlobId))
            #expect(try blobs.read(outputs.thumbnailBlobId).starts(with: [0xFF, 0xD8]))  // JPEG
            results.append(outputs)
        }
        #expect(results[0] == results[1])
        #expect(results[0].media.width == 320 && !results[0].synthetic)
        // The preview is 240 lines high.
        let blobs = BlobStore(root: "\(folder.path)/run1/blobs")
        let probe = try await CommandRunner.run(
            "ffprobe",
            ["-v", "error", "-print_format", "json", "-show_streams", blobs.path(of: results[0].previewBlobId)],
            workFolder: folder.path, deadline: .now + .seconds(30))
        let json = try JSONSerialization.jsonObject(with: Data(probe.stdout)) as? [String: Any]
        let streams = json?["streams"] as? [[String: Any]] ?? []
        #expect(streams.first { $0["codec_type"] as? String == "video" }?["height"] as? Int == 240)
    }

    @Test func aTextFileFailsWithFFprobesStderr() async throws {
        let folder = try TestFolder()
        let source = try folder.blobs.put(Array("this is not a video\n".utf8))
        let step = FFmpegStep(blobs: folder.blobs, workRoot: "\(folder.path)/work")
        do {
            _ = try await step.process(sourceBlobId: source, deadline: .now + .seconds(60))
            Issue.record("a text file was processed")
        } catch let failure as MediaFailure {
            #expect(failure.reason.hasPrefix("ffprobe: "))
            #expect(failure.reason.contains("Invalid data"))
        }
    }

    @Test func theSyntheticStepTakesItsTimeAndIsDeterministic() async throws {
        let folder = try TestFolder()
        let source = try folder.blobs.put(Array(repeating: 7, count: 1000))
        let step = SyntheticStep(workMs: 50, blobs: folder.blobs)
        let start = ContinuousClock.now
        let first = try await step.process(sourceBlobId: source, deadline: .now + .seconds(10))
        #expect(ContinuousClock.now - start >= .milliseconds(50))
        let second = try await step.process(sourceBlobId: source, deadline: .now + .seconds(10))
        #expect(first == second && first.synthetic)
    }

    /// Pids whose parent is this process and whose command line has `argument` (from /proc).
    static func children(withArgument argument: String) -> [Int32] {
        let me = getpid()
        let pids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc"))?.compactMap { Int32($0) } ?? []
        return pids.filter { pid in
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return false }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            let cmdline = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline"))) ?? Data()
            return fields.count > 1 && Int32(fields[1]) == me
                && cmdline.split(separator: 0).contains { String(decoding: $0, as: UTF8.self) == argument }
        }
    }
}
