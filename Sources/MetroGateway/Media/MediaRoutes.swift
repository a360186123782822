import Foundation
import HTTPTypes
import Hummingbird
import Logging
import MetroKit
import MetroProtocol

/// `GET /v1/videos/{id}/thumbnail` (image/jpeg) and `GET /v1/videos/{id}/preview`
/// (video/mp4): a processed video's outputs, streamed from the video service's
/// blob store in pieces of `video.media.bytes` (at most `mediaPieceBytes`, one
/// piece in memory at a time, each rpc with the request's timeout), so a player
/// can show the thumbnail and play the preview. A video worker older than that
/// method answers it 400 `unknown-method`; the piece is then asked again with
/// `video.media.read` (the bytes in base64), so a gateway may be upgraded first.
///
/// - The ETag is the blob's id (the SHA-256 of its bytes): `If-None-Match` with it
///   answers 304, and the bytes of an ETag never change.
/// - One `Range: bytes=…` (`ByteRange`) answers 206 with `Content-Range`; a range
///   past the end 416 with `Content-Range: bytes */<size>`; others are ignored (200).
/// - 404 for an unknown video, 409 while it has no such output (not processed yet,
///   or failed).
/// - HEAD (the router's, from the GET) answers the same headers after a 1-byte
///   piece, and reads nothing more.
/// - A piece that fails once the headers are out (the video service gone) ends the
///   body short: the client sees fewer bytes than `Content-Length` and may resume
///   with a Range.
extension Gateway {
    func addMediaRoutes(_ table: RouteTable) {
        let statuses = RouteTable.upstream.union([200, 206, 304, 404, 409, 416])
        for kind in ["thumbnail", "preview"] {
            table.add(.get, "/v1/videos/{id}/\(kind)", statuses, access: .anyPrincipal) { request, context in
                try await self.media(kind, request, context)
            }
        }
    }

    private func media(_ kind: String, _ request: Request, _ context: GatewayContext) async throws -> Response {
        let id = try context.parameters.require("id")
        try Self.checkID(id, field: "id")
        let pieceBytes = max(1, min(configuration.mediaPieceBytes, 512 * 1024))
        let range = ByteRange.parse(request.headers[.range])
        let headOnly = request.method == .head
        // The first piece also says the size and the ETag; a suffix range needs the
        // size first, so it asks for one byte (so does HEAD, which sends no bytes).
        let (firstOffset, firstLength): (Int64, Int)
        switch range {
        case nil: (firstOffset, firstLength) = (0, headOnly ? 1 : pieceBytes)
        case .from(let a, let b)?:
            let want = headOnly ? 1 : pieceBytes
            (firstOffset, firstLength) = (a, b.map { Int(min(Int64(want), $0 - a + 1)) } ?? want)
        case .suffix?: (firstOffset, firstLength) = (0, 1)
        }
        let first = try await piece(id, kind, offset: firstOffset, length: firstLength, context)
        let etag = "\"\(first.head.blobId)\""
        var headers: HTTPFields = [
            .eTag: etag, .acceptRanges: "bytes", .cacheControl: "public, max-age=86400",
        ]
        if let wanted = request.headers[.ifNoneMatch], Self.matches(wanted, etag) {
            return Response(status: .notModified, headers: headers)
        }
        let total = first.head.totalBytes
        let bytes: ClosedRange<Int64>
        if let range {
            guard let resolved = range.resolve(total: total) else {
                var response = Problem(
                    .rangeNotSatisfiable, "range-not-satisfiable", title: "Range not satisfiable",
                    detail: "the \(kind) has \(total) bytes"
                ).response(path: request.uri.path, requestID: context.requestID)
                response.headers[.contentRange] = "bytes */\(total)"
                return response
            }
            bytes = resolved
            headers[.contentRange] = "bytes \(resolved.lowerBound)-\(resolved.upperBound)/\(total)"
        } else {
            bytes = 0...max(0, total - 1)
        }
        headers[.contentType] = first.head.contentType
        let length = total == 0 ? 0 : bytes.upperBound - bytes.lowerBound + 1
        if headOnly {
            headers[.contentLength] = "\(length)"
            return Response(status: range == nil ? .ok : .partialContent, headers: headers)
        }
        // The first piece's bytes, when it starts where the body does (not for a
        // suffix that starts past 0): they are the body's first bytes.
        let firstBytes = first.head.offset == bytes.lowerBound ? first.bytes.prefix(Int(length)) : []
        let body = ResponseBody(contentLength: Int(length)) { [self] writer in
            var offset = bytes.lowerBound
            if !firstBytes.isEmpty {
                try await writer.write(ByteBuffer(bytes: firstBytes))
                offset += Int64(firstBytes.count)
            }
            while offset <= bytes.upperBound && length > 0 {
                let want = Int(min(Int64(pieceBytes), bytes.upperBound - offset + 1))
                let next = try await piece(id, kind, offset: offset, length: want, context)
                let data = next.bytes
                guard next.head.blobId == first.head.blobId, !data.isEmpty else {
                    context.logger.warning("\(kind) of \(id) changed or ended early; the body is cut short")
                    throw Problem(.badGateway, "bad-upstream", title: "The upstream answered wrongly", detail: kind)
                }
                try await writer.write(ByteBuffer(bytes: data))
                offset += Int64(data.count)
            }
            try await writer.finish(nil)
        }
        return Response(status: range == nil ? .ok : .partialContent, headers: headers, body: body)
    }

    private func piece(_ id: String, _ kind: String, offset: Int64, length: Int, _ context: GatewayContext)
        async throws(Problem) -> RpcBytes<MediaHead>
    {
        var context = context
        context.deadline = .now + context.timeout
        let request = MediaRead(videoId: id, kind: kind, offset: offset, length: length)
        do {
            return try await videos.bytes(VideoMethods.mediaBytes, request, context)
        } catch let problem where problem.upstreamCode == .unknownMethod {
            let old = try await videos.value(VideoMethods.mediaRead, request, context).0
            let head = MediaHead(
                blobId: old.blobId, contentType: old.contentType, totalBytes: old.totalBytes, offset: old.offset)
            return RpcBytes(head: head, bytes: Data(base64Encoded: old.data).map { [UInt8]($0) } ?? [])
        }
    }

    /// `If-None-Match`: `*` or a list of entity tags, weak ones compared weakly (RFC 9110 §13.1.2).
    static func matches(_ header: String, _ etag: String) -> Bool {
        header.split(separator: ",").contains { item in
            let tag = item.trimmingCharacters(in: .whitespaces)
            return tag == "*" || tag == etag || tag == "W/" + etag
        }
    }
}
