import Foundation
import MetroTestKit
import Testing

/// `make run` is a user's first look at the broker: it must run release
/// binaries, built in their own scratch path, never the debug build.
@Suite struct MakeRunTests {
    @Test func makeRunBuildsAndRunsReleaseBinaries() async throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        // `make -n` prints the commands without running them.
        let make = try ChildProcess(URL(fileURLWithPath: "/usr/bin/env"), ["make", "-n", "-C", root.path, "run"])
        #expect(await make.waitForExit(timeout: .seconds(30)) == 0, "\(make.stderrText)")
        let commands = make.stdoutText.split(separator: "\n").map(String.init)
        let build = try #require(commands.first { $0.contains("build") && $0.contains("--product metro") })
        #expect(build.contains("-c release") && build.contains("--scratch-path .build-release"), "\(build)")
        let up = try #require(commands.first { $0.hasSuffix("up --data-dir data") })
        #expect(up.hasPrefix(".build-release/release/metro "), "\(up)")
        #expect(!commands.contains { $0.contains(".build/debug/") }, "\(commands)")
    }
}
