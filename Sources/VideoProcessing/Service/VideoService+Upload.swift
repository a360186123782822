import Foundation
import Logging
import MetroKit
import MetroRuntime

extension VideoService {
    /// `video.upload` and `video.upload.begin|chunk|finish|abort`. Bytes go to the blob
    /// store (or the part file) off the pool first; then one transaction commits
    /// the video (status `uploaded`) with its `video.uploaded` outbox row, so the
    /// event goes out if and only if the video is stored. The answer then waits,
    /// within the call's deadline, for the broker's ACK of that event
    /// (`awaitUploaded`): an upload answered means "published acknowledged"
    /// (issue 17), and while the broker refuses publishes the caller gets 407.
    static func registerUploads(
        on service: inout ServiceDefinition, settings: Settings, clock: @escaping @Sendable () -> Int64
    ) {
        let blobs = settings.blobs
        let parts = settings.uploads
        service.rpc(VideoAPI.upload) { request, context, store in
            try await answering {
                let fields = try VideoRules.upload(
                    ownerId: request.ownerId, title: request.title, tags: request.tags,
                    contentType: request.contentType)
                let stored = try await storeSource(request, blobs: blobs)
                let (video, eventID) = try await store.write(context) { tx in
                    let now = clock()
                    let video = Video(
                        videoId: UUID().uuidString.lowercased(), ownerId: fields.ownerId, title: fields.title,
                        tags: fields.tags, status: .uploaded, contentType: fields.contentType, sizeBytes: stored.size,
                        sourceBlobId: stored.id, uploadedAtMs: now, updatedAtMs: now)
                    return (video, try commitUpload(video, tx: tx))
                }
                try await awaitUploaded(video, eventID: eventID, store: store, context: context)
                return video
            }
        }
        service.rpc(VideoAPI.uploadBegin) { request, context, store in
            try await answering {
                let upload = try await store.write(context) { tx in
                    try UploadStore.begin(request, uploadId: UUID().uuidString.lowercased(), nowMs: clock(), in: tx.db)
                }
                return UploadBeginResponse(uploadId: upload.uploadId, maxChunkBytes: VideoAPI.maxInlineBytes)
            }
        }
        service.rpc(VideoAPI.uploadChunk) { request, _, store in
            try await answering {
                let bytes = try decodeBase64(request.data)
                return try await chunk(
                    request.uploadId, at: request.offset, bytes, store: store, parts: parts, clock: clock)
            }
        }
        service.rpc(VideoAPI.uploadBytes) { request, _, store in
            try await answering {
                guard request.bytes.count <= VideoAPI.maxInlineBytes else {
                    throw VideoError.invalid("bytes", "at most \(VideoAPI.maxInlineBytes) bytes per chunk")
                }
                return try await chunk(
                    request.head.uploadId, at: request.head.offset, Array(request.bytes), store: store, parts: parts,
                    clock: clock)
            }
        }
        service.rpc(VideoAPI.uploadAbort) { request, context, store in
            try await answering { try await abort(request, context: context, store: store, parts: parts) }
        }
        service.rpc(VideoAPI.uploadFinish) { request, context, store in
            try await answering {
                try await finish(request, context: context, store: store, blobs: blobs, parts: parts, clock: clock)
            }
        }
    }

    /// The video row and its `video.uploaded` event, in the caller's transaction;
    /// returns the event's id.
    static func commitUpload(_ video: Video, tx: ServiceTransaction) throws -> String {
        try VideoStore.insert(video, in: tx.db)
        return try tx.publish(
            topic: VideoTopics.uploaded, event: VideoUploaded(video: video), schema: VideoTopics.schema)
    }

    /// Waits for the broker's ACK of the upload's `video.uploaded` event, for at
    /// most four fifths of the time left before the call's deadline (the answer
    /// must reach the caller before it gives up); without it, 407 publish-pending.
    /// The video stays stored and its event in the outbox: the relay publishes it
    /// once the broker accepts publishes again (a full disk, a journal over its
    /// limit), and the video is processed then. Nothing is lost; the caller must
    /// not upload it again.
    static func awaitUploaded(_ video: Video, eventID: String, store: ServiceStore, context: RpcContext)
        async throws
    {
        let now = ContinuousClock.now
        let deadline = now + max(.zero, context.deadline - now) / 5 * 4
        guard try await store.awaitPublished(eventID, before: deadline) else {
            context.logger.warning(
                "upload stored, its event not acknowledged by the broker in time",
                metadata: ["video": .string(video.videoId)])
            throw RpcError.publishPending(
                "video \(video.videoId) is stored, but the broker did not acknowledge its video.uploaded event in time "
                    + "(it refuses publishes); the event is published, and the video processed, once the broker "
                    + "accepts it: do not upload it again")
        }
    }

    /// `path` copied into the store, or `data` decoded and stored: exactly one of them.
    static func storeSource(_ request: UploadRequest, blobs: BlobStore) async throws -> (id: String, size: Int64) {
        switch (request.path, request.data) {
        case (let path?, nil):
            do {
                return try await OffPool.run { try blobs.put(copying: path) }
            } catch let error as BlobError where !error.diskFull {
                throw VideoError.invalid("path", error.description)
            }
        case (nil, let data?):
            let bytes = try decodeBase64(data)
            return (try await OffPool.run { try blobs.put(bytes) }, Int64(bytes.count))
        default:
            throw VideoError.invalid("path", "give exactly one of path and data")
        }
    }

    static func decodeBase64(_ text: String) throws(VideoError) -> [UInt8] {
        guard let data = Data(base64Encoded: text) else { throw .invalid("data", "is not base64") }
        guard data.count <= VideoAPI.maxInlineBytes else {
            throw .invalid("data", "at most \(VideoAPI.maxInlineBytes) bytes; use video.upload.begin for more")
        }
        return [UInt8](data)
    }

    /// `video.upload.chunk` and `video.upload.bytes`: `bytes` at `offset` of the upload.
    static func chunk(
        _ uploadID: String, at offset: Int64, _ bytes: [UInt8], store: ServiceStore, parts: UploadFiles,
        clock: @escaping @Sendable () -> Int64
    ) async throws -> UploadChunkResponse {
        // At most two rounds: another instance may have advanced the row between our read and our write.
        for _ in 0..<2 {
            let upload = try await store.read { try UploadStore.get(id: uploadID, in: $0) }
            let id = upload.uploadId
            switch try UploadStore.plan(
                upload, offset: offset, length: bytes.count, maxChunkBytes: VideoAPI.maxInlineBytes)
            {
            case .verify:
                let stored = try await OffPool.run { try parts.read(id, at: offset, count: bytes.count) }
                guard stored == bytes else {
                    throw VideoError(.conflict, "offset \(offset): other bytes were received there")
                }
                return UploadChunkResponse(uploadId: id, receivedBytes: upload.receivedBytes)
            case .append:
                try await OffPool.run { try parts.write(bytes, at: offset, to: id) }
                let end = offset + Int64(bytes.count)
                if try await store.write({ tx in
                    try UploadStore.advance(id: id, from: offset, to: end, nowMs: clock(), in: tx.db)
                }) {
                    return UploadChunkResponse(uploadId: id, receivedBytes: end)
                }
            }
        }
        throw VideoError(.conflict, "upload \(uploadID) moved while this chunk was written; send it again")
    }

    /// `video.upload.abort`: the row goes first (in one transaction), then the part
    /// file, so a crash in between leaves only a file the sweep removes.
    static func abort(
        _ request: UploadAbortRequest, context: RpcContext, store: ServiceStore, parts: UploadFiles
    ) async throws -> UploadAbortResponse {
        let id = try await store.write(context) { tx in
            let id = try UploadStore.get(id: request.uploadId, in: tx.db).uploadId
            try UploadStore.abort(id: id, in: tx.db)
            return id
        }
        let removed = try await OffPool.run { parts.remove(id) }
        context.logger.info("upload aborted", metadata: ["upload": "\(id)", "bytes": "\(removed)"])
        return UploadAbortResponse(uploadId: id, removedBytes: removed)
    }

    static func finish(
        _ request: UploadFinishRequest, context: RpcContext, store: ServiceStore, blobs: BlobStore, parts: UploadFiles,
        clock: @escaping @Sendable () -> Int64
    ) async throws -> Video {
        let upload = try await store.read { try UploadStore.get(id: request.uploadId, in: $0) }
        if let videoId = upload.videoId { return try await store.read { try VideoStore.get(id: videoId, in: $0) } }
        if let size = upload.expectedSize, size != upload.receivedBytes {
            throw VideoError(.conflict, "\(upload.receivedBytes) of the announced \(size) bytes are received")
        }
        let path = parts.path(of: upload.uploadId)
        let stored: (id: String, size: Int64) = try await OffPool.run {
            if upload.receivedBytes == 0 && !FileManager.default.fileExists(atPath: path) {
                return (try blobs.put([]), 0)
            }
            // Only what the row says is durable: a chunk written but not recorded
            // (a crash between the two) may have left more bytes in the file.
            return try blobs.put(copying: path, limit: upload.receivedBytes)
        }
        guard stored.size == upload.receivedBytes else {
            throw VideoError(.conflict, "the part file has \(stored.size) bytes, \(upload.receivedBytes) were received")
        }
        if let sha = request.sha256, sha.lowercased() != stored.id {
            throw VideoError.invalid("sha256", "the bytes received hash to \(stored.id)")
        }
        let (video, eventID) = try await store.write(context) { tx -> (Video, String?) in
            let current = try UploadStore.get(id: upload.uploadId, in: tx.db)
            if let videoId = current.videoId { return (try VideoStore.get(id: videoId, in: tx.db), nil) }
            let now = clock()
            let video = Video(
                videoId: UUID().uuidString.lowercased(), ownerId: upload.ownerId, title: upload.title,
                tags: upload.tags, status: .uploaded, contentType: upload.contentType, sizeBytes: stored.size,
                sourceBlobId: stored.id, uploadedAtMs: now, updatedAtMs: now)
            let eventID = try commitUpload(video, tx: tx)
            try UploadStore.finish(id: upload.uploadId, videoId: video.videoId, nowMs: now, in: tx.db)
            return (video, eventID)
        }
        _ = try? await OffPool.run { parts.remove(upload.uploadId) }
        // A finish sent again (the first answer was lost) answers at once: its event
        // was committed by the first, which waited for it.
        if let eventID { try await awaitUploaded(video, eventID: eventID, store: store, context: context) }
        return video
    }
}
