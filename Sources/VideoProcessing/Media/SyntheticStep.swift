import Foundation

/// SYNTHETIC, for load and soak tests only (`--synthetic-work-ms N`; never the
/// default): instead of ffmpeg, hashes the source blob in a loop on a thread of
/// its own for `workMs` of wall time (CPU-bound, like a transcode, and off the
/// cooperative pool), then stores two small outputs derived from the source blob
/// id alone. Given the same source, the outputs and media info are the same, so
/// a rerun after a crash publishes what the first run would have. Every video it
/// makes carries `synthetic: true`.
public struct SyntheticStep: MediaStep {
    public let workMs: Int
    public let blobs: BlobStore

    public init(workMs: Int, blobs: BlobStore) {
        self.workMs = workMs
        self.blobs = blobs
    }

    public func process(sourceBlobId: String, deadline: ContinuousClock.Instant) async throws -> MediaOutputs {
        try await OffPool.run { [blobs, workMs] in try Self.run(sourceBlobId, workMs: workMs, blobs: blobs) }
    }

    /// The whole step, blocking the calling thread (the benchmark's in-process baseline calls it directly).
    public static func run(_ sourceBlobId: String, workMs: Int, blobs: BlobStore) throws -> MediaOutputs {
        let source = try blobs.read(sourceBlobId)
        burn(source, for: .milliseconds(workMs))
        let thumbnail = try blobs.put(Array("metro synthetic thumbnail of \(sourceBlobId)\n".utf8))
        let preview = try blobs.put(Array("metro synthetic preview of \(sourceBlobId)\n".utf8))
        return MediaOutputs(
            media: media(size: source.count), thumbnailBlobId: thumbnail, previewBlobId: preview, synthetic: true)
    }

    /// Made-up but deterministic: 320x240, 25 fps, 1–600 s from the size.
    static func media(size: Int) -> MediaInfo {
        let duration = Double(size % 600 + 1)
        return MediaInfo(
            durationSeconds: duration, width: 320, height: 240, videoCodec: "synthetic", audioCodec: nil,
            bitRate: Int64(Double(size * 8) / duration), frameRate: 25)
    }

    /// Hashes `source` (at most its first 64 KiB) again and again until `duration` passed.
    static func burn(_ source: [UInt8], for duration: Duration) {
        let end = ContinuousClock.now + duration
        let block = source.isEmpty ? [0] : Array(source.prefix(64 * 1024))
        var hash = BlobHash()
        while ContinuousClock.now < end { hash.update(block.prefix(4096)) }
        _ = hash.finalizeHex()
    }
}
