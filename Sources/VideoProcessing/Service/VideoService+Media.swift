import Foundation
import MetroKit
import MetroRuntime

#if canImport(Glibc)
    import Glibc
#endif

extension VideoService {
    /// The outputs a client may read, by `video.media.bytes`'s `kind`.
    enum MediaKind: String, CaseIterable {
        case thumbnail, preview

        var contentType: String { self == .thumbnail ? "image/jpeg" : "video/mp4" }

        func blob(of video: Video) -> String? { self == .thumbnail ? video.thumbnailBlobId : video.previewBlobId }
    }

    /// `video.media.bytes` (the bytes raw after a JSON head, protocol.md §6.9) and
    /// `video.media.read` (the same in JSON, the bytes in base64, for callers older
    /// than the first): one snapshot read of the video row, then the bytes from the
    /// blob file (off the pool; the blob is content-addressed, so the bytes of an id
    /// never change between the reads of one download). 404 for an unknown video,
    /// 405 while it has no such output (not processed, or failed).
    static func registerMedia(on service: inout ServiceDefinition, settings: Settings) {
        let blobs = settings.blobs
        service.rpc(VideoAPI.mediaBytes) { request, _, store in
            try await answering {
                let (head, bytes) = try await piece(request, store, blobs)
                return RpcBytes(head: head, bytes: bytes)
            }
        }
        service.rpc(VideoAPI.mediaRead) { request, _, store in
            try await answering {
                let (head, bytes) = try await piece(request, store, blobs)
                return MediaChunk(
                    videoId: head.videoId, kind: head.kind, blobId: head.blobId, contentType: head.contentType,
                    totalBytes: head.totalBytes, offset: head.offset, data: Data(bytes).base64EncodedString())
            }
        }
    }

    private static func piece(_ request: MediaReadRequest, _ store: ServiceStore, _ blobs: BlobStore) async throws
        -> (MediaHead, [UInt8])
    {
        guard let kind = MediaKind(rawValue: request.kind) else {
            throw VideoError.invalid("kind", "one of \(MediaKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard request.offset >= 0 else { throw VideoError.invalid("offset", "must not be negative") }
        guard (1...VideoAPI.maxInlineBytes).contains(request.length) else {
            throw VideoError.invalid("length", "1–\(VideoAPI.maxInlineBytes) bytes")
        }
        let video = try await store.read { try VideoStore.get(id: request.videoId, in: $0) }
        guard let blob = kind.blob(of: video) else {
            throw VideoError(
                .conflict, "video \(video.videoId) is \(video.status.rawValue): it has no \(kind.rawValue)")
        }
        let (total, bytes) = try await OffPool.run {
            try read(blobs.path(of: blob), offset: request.offset, length: request.length)
        }
        let head = MediaHead(
            videoId: video.videoId, kind: kind.rawValue, blobId: blob, contentType: kind.contentType,
            totalBytes: total, offset: request.offset, length: bytes.count)
        return (head, bytes)
    }

    /// The file's size and up to `length` bytes from `offset` (none at or past its end).
    static func read(_ path: String, offset: Int64, length: Int) throws -> (Int64, [UInt8]) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw BlobError("cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw BlobError("cannot stat \(path): \(String(cString: strerror(errno)))") }
        let total = Int64(info.st_size)
        let want = Int(max(0, min(Int64(length), total - offset)))
        var bytes = [UInt8](repeating: 0, count: want)
        var done = 0
        while done < want {
            let n = bytes.withUnsafeMutableBytes {
                pread(fd, $0.baseAddress! + done, want - done, off_t(offset) + off_t(done))
            }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw BlobError("cannot read \(path): \(String(cString: strerror(errno)))") }
            done += n
        }
        return (total, bytes)
    }
}
