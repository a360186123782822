import Foundation
import HTTPTypes
import Hummingbird
import Logging
import MetroKit
import MetroProtocol

/// `POST /v1/videos?owner=<userId>&title=<title>[&tags=a,b]`, the body being the
/// video itself (`Content-Type: video/*`). The body is streamed: it is cut into
/// chunks of at most `uploadChunkBytes` as it arrives and each chunk goes to
/// `video.upload.bytes` (raw after a JSON head, protocol.md §6.9) before the next
/// is read, so the gateway holds one chunk per upload, whatever the size. A video
/// worker older than that method answers it 400 `unknown-method`; the rest of
/// that upload then goes in `video.upload.chunk` (base64 in JSON). `video.upload.finish` then commits the video
/// and its `video.uploaded` event; the answer is 202 with the id and a status URL.
///
/// 415 for a body that is not `video/*`, 413 over `maxUploadBytes` (at once when
/// `Content-Length` says so, else when the stream passes it). `X-Request-Timeout`
/// bounds each rpc of the upload, not the whole transfer, whose length depends on
/// the client's link.
extension Gateway {
    func addUploadRoute(_ table: RouteTable) {
        let statuses = RouteTable.upstream.union([202, 404, 409, 413, 415])
        table.add(.post, "/v1/videos", statuses, access: .userInQuery("owner")) { request, context in
            try await self.upload(request, context)
        }
    }

    private func upload(_ request: Request, _ context: GatewayContext) async throws -> Response {
        let contentType = request.headers[.contentType]?.split(separator: ";").first.map {
            $0.trimmingCharacters(in: .whitespaces).lowercased()
        }
        guard let contentType, contentType.hasPrefix("video/"), contentType.count > "video/".count else {
            metrics.shed(reason: "media-type", service: "video")
            throw Problem(
                .unsupportedMediaType, "media-type", title: "Unsupported media type",
                detail: "an upload's Content-Type is video/* (e.g. video/mp4)")
        }
        let maxBytes = configuration.maxUploadBytes
        let declared = request.headers[.contentLength].flatMap { Int64($0) }
        if let declared, declared > maxBytes {
            metrics.shed(reason: "too-large", service: "video")
            throw Problem.tooLarge(Int(maxBytes))
        }
        guard let owner = request.query("owner") else { throw Problem.invalid("owner", "owner: is required") }
        guard let title = request.query("title") else { throw Problem.invalid("title", "title: is required") }
        try Self.checkID(owner, field: "owner")
        let tags = request.query("tags").map { $0.split(separator: ",").map(String.init) }
        let begin = UploadBegin(ownerId: owner, title: title, tags: tags, contentType: contentType, sizeBytes: declared)
        let (begun, _) = try await videos.value(VideoMethods.uploadBegin, begin, refreshed(context))

        let total: Int64
        let video: VideoSummary
        do {
            total = try await streamChunks(
                request, uploadID: begun.uploadId, maxChunkBytes: begun.maxChunkBytes, context)
            guard total > 0 else { throw Problem.invalid(nil, "the upload is empty") }
            video = try await finish(begun.uploadId, context)
        } catch let problem as Problem where problem.slug == "publish-pending" {
            throw problem  // the video is stored: nothing to give up
        } catch {
            await abort(begun.uploadId, context, because: error)
            throw error
        }
        let statusURL = "/v1/videos/\(video.videoId)"
        let accepted = UploadAccepted(
            videoId: video.videoId, status: video.status, statusUrl: statusURL, sizeBytes: total)
        return try JSONBodies.response(.accepted, accepted, headers: [.location: statusURL])
    }

    /// Sends the body as it arrives, one chunk at a time; returns its length.
    private func streamChunks(
        _ request: Request, uploadID: String, maxChunkBytes: Int, _ context: GatewayContext
    ) async throws -> Int64 {
        let maxBytes = configuration.maxUploadBytes
        let chunkBytes = max(1, min(configuration.uploadChunkBytes, maxChunkBytes))
        var pending: [UInt8] = []
        pending.reserveCapacity(chunkBytes)
        var offset: Int64 = 0
        var total: Int64 = 0
        var inBase64 = false
        for try await var piece in request.body {
            while piece.readableBytes > 0 {
                let take = min(chunkBytes - pending.count, piece.readableBytes)
                pending += piece.readBytes(length: take)!
                total += Int64(take)
                if total > maxBytes {
                    metrics.shed(reason: "too-large", service: "video")
                    throw Problem.tooLarge(Int(maxBytes))
                }
                if pending.count == chunkBytes {
                    try await sendChunk(uploadID, offset, pending, &inBase64, context)
                    offset += Int64(pending.count)
                    pending.removeAll(keepingCapacity: true)
                }
            }
        }
        if !pending.isEmpty {
            try await sendChunk(uploadID, offset, pending, &inBase64, context)
        }
        return total
    }

    /// `video.upload.abort` for an upload that will not finish (over the limit,
    /// empty, a chunk refused, the client gone): its part file would otherwise stay
    /// on the video service's disk until the service's sweep expires it (24 h). It
    /// runs in a task of its own, so a request cancelled because its client went
    /// away still sends it; its failure is only logged (the sweep remains).
    private func abort(_ uploadID: String, _ context: GatewayContext, because error: any Error) async {
        let context = refreshed(context)
        let videos = self.videos
        let answer = await Task { () -> Problem? in
            do throws(Problem) {
                _ = try await videos.call(VideoMethods.uploadAbort, UploadAbort(uploadId: uploadID), context)
                return nil
            } catch {
                return error
            }
        }.value
        let why = (error as? Problem)?.slug ?? "\(type(of: error))"
        if let answer, answer.status == .conflict {
            context.logger.warning(
                "upload not aborted: the video service had finished it (the video is stored)",
                metadata: ["upload": "\(uploadID)", "because": "\(why)"])
        } else if let answer {
            context.logger.warning(
                "upload not aborted; the video service's sweep removes it after its expiry",
                metadata: ["upload": "\(uploadID)", "because": "\(why)", "error": "\(answer.detail)"])
        } else {
            context.logger.info("upload aborted", metadata: ["upload": "\(uploadID)", "because": "\(why)"])
        }
    }

    /// One chunk, raw unless the worker said it has no `video.upload.bytes`
    /// (then `inBase64` stays set for the rest of the upload).
    private func sendChunk(
        _ uploadID: String, _ offset: Int64, _ bytes: [UInt8], _ inBase64: inout Bool, _ context: GatewayContext
    ) async throws(Problem) {
        if !inBase64 {
            do {
                let chunk = RpcBytes(head: UploadBytesHead(uploadId: uploadID, offset: offset), bytes: bytes)
                _ = try await videos.call(VideoMethods.uploadBytes, chunk, refreshed(context))
                return
            } catch let problem where problem.upstreamCode == .unknownMethod {
                inBase64 = true
            }
        }
        let chunk = UploadChunk(uploadId: uploadID, offset: offset, data: Data(bytes).base64EncodedString())
        _ = try await videos.call(VideoMethods.uploadChunk, chunk, refreshed(context))
    }

    private func finish(_ uploadID: String, _ context: GatewayContext) async throws -> VideoSummary {
        do {
            return try await videos.value(
                VideoMethods.uploadFinish, UploadFinish(uploadId: uploadID, sha256: nil), refreshed(context)
            ).0
        } catch let problem where problem.slug == "publish-pending" {
            throw Self.naming(problem)
        }
    }

    /// A 503 `publish-pending` of `video.upload.finish` with the stored video's id and
    /// status URL as members of its own, so that a client polls the video instead of
    /// uploading it again. The id comes from the rpc's message, `video <id> is stored,
    /// …` (docs/services.md, "Video"); a message of another form leaves the problem as
    /// it is.
    static func naming(_ problem: Problem) -> Problem {
        let words = problem.detail.split(separator: " ", maxSplits: 2)
        // An id as the video service makes them (a UUID): safe in a URL path as it is.
        let safe =
            words.count == 3 && (1...128).contains(words[1].utf8.count)
            && words[1].utf8.allSatisfy { $0 == 0x2D || (0x30...0x39).contains($0) || (0x61...0x7A).contains($0) }
        guard safe, words[0] == "video", words[2].hasPrefix("is stored") else { return problem }
        var named = problem
        named.videoId = String(words[1])
        named.statusUrl = "/v1/videos/\(words[1])"
        return named
    }

    /// The context with a fresh deadline: each rpc of an upload gets the request's timeout.
    private func refreshed(_ context: GatewayContext) -> GatewayContext {
        var context = context
        context.deadline = .now + context.timeout
        return context
    }
}

/// The answer of `POST /v1/videos`: the id, its status and where to poll it.
struct UploadAccepted: Codable, Sendable {
    var videoId: String
    var status: String
    var statusUrl: String
    var sizeBytes: Int64
}
