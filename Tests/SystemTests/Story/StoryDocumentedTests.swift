import Foundation
import MetroTestKit
import Testing

/// The walk-through of docs/services.md §11 run as printed, by python3 with pyzmq,
/// against the real cast (its default endpoints replaced by the ones bound).
@Suite(.serialized) struct StoryDocumentedTests {
    @Test(.enabled("needs python3 with pyzmq") { await DocumentedExample.pyzmqAvailable })
    func theServicesWalkThroughRunsAsDocumented() async throws {
        let stack = try await StoryTests.cast()
        let folder = try TemporaryDirectory()
        let clip = folder.url.appendingPathComponent("clip.mp4")
        try await TestClip.make(clip)
        try await closing(stack) {
            let out = try await DocumentedExample.run(
                after: "The whole story: profiles, video and recommendations", in: "services.md",
                replacing: [
                    "tcp://127.0.0.1:7400": stack.registry.endpoint, "tcp://127.0.0.1:7701": stack.broker.ingest,
                    #"CLIP = "clip.mp4""#: #"CLIP = "\#(clip.path)""#,
                ], timeout: .seconds(180))
            let lines = out.split(separator: "\n").map(String.init)
            #expect(lines.first == "uploaded Lighthouse uploaded", "\(out)")
            for title in ["Lighthouse", "Harbour"] {
                #expect(lines.contains { $0.hasPrefix("processed \(title) 2.0 s 320 x 240 thumbnail ") }, "\(out)")
            }
            #expect(lines.contains("for Ada: Harbour - because you watched Lighthouse"), "\(out)")
            #expect(lines.last == "Ada's history: 1 entry", "\(out)")
        }
    }
}
