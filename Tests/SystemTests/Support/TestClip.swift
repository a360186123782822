import Foundation
import MetroTestKit

/// Media files made by Debian's ffmpeg and read by ffprobe, for the tests of
/// video processing (installed by .ci/run and `make setup-test`). Each tool runs
/// as a `ChildProcess`, awaited without blocking a pool thread.
enum TestClip {
    /// A `seconds`-long H.264/AAC MP4 of lavfi's `testsrc` (a test card with a
    /// counter) and a sine tone, `width`x`height` at 25 frames/s, written to `url`.
    static func make(_ url: URL, seconds: Int = 2, width: Int = 320, height: Int = 240) async throws {
        _ = try await run(
            "ffmpeg",
            [
                "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
                "-f", "lavfi", "-i", "testsrc=duration=\(seconds):size=\(width)x\(height):rate=25",
                "-f", "lavfi", "-i", "sine=duration=\(seconds)",
                "-c:v", "libx264", "-c:a", "aac", "-pix_fmt", "yuv420p", url.path,
            ])
    }

    /// The width and height of the first video stream of `url`, by ffprobe.
    static func dimensions(_ url: URL) async throws -> (width: Int, height: Int) {
        let text = try await run(
            "ffprobe",
            [
                "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height", "-of", "csv=p=0",
                url.path,
            ])
        let numbers = text.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ",").compactMap {
            Int($0)
        }
        guard numbers.count == 2 else { throw WaitError.unexpected("ffprobe said '\(text)' of \(url.path)") }
        return (numbers[0], numbers[1])
    }

    /// The lowercase hex SHA-256 of the file at `url` (coreutils' sha256sum).
    static func sha256(_ url: URL) async throws -> String {
        String(try await run("sha256sum", [url.path]).prefix(64))
    }

    /// Runs `tool` (found on PATH) and returns its standard output; throws with its
    /// standard error when it fails or takes more than 60 s.
    private static func run(_ tool: String, _ arguments: [String]) async throws -> String {
        let child = try ChildProcess(URL(fileURLWithPath: "/usr/bin/env"), [tool] + arguments)
        let status = await child.waitForExit(timeout: .seconds(60))
        guard status == 0 else {
            child.kill()
            throw WaitError.unexpected(
                "\(tool) exited with \(status.map(String.init) ?? "no status"): \(child.stderrText)")
        }
        return child.stdoutText
    }
}
