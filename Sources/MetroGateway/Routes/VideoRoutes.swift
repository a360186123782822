import Foundation
import HTTPTypes
import Hummingbird
import MetroKit
import MetroProtocol
import Profiles

/// `/v1/videos` reads (the video service) and views (`video.watched`, published
/// acknowledged by the gateway itself: events.md §3.3).
extension Gateway {
    static let videoStatuses: Set<String> = ["uploaded", "processing", "processed", "failed"]

    func addVideoRoutes(_ table: RouteTable) {
        let up = RouteTable.upstream
        let limit = configuration.maxJSONBodyBytes
        table.add(.get, "/v1/videos/{id}", up.union([200, 404]), access: .anyPrincipal) { _, context in
            let id = try context.parameters.require("id")
            return JSONBodies.response(.ok, try await self.videos.call(VideoMethods.get, VideoID(videoId: id), context))
        }
        table.add(.get, "/v1/videos", up.union([200]), access: .anyPrincipal) { request, context in
            let status = request.query("status")
            if let status, !Self.videoStatuses.contains(status) {
                throw Problem.invalid("status", "status: one of \(Self.videoStatuses.sorted().joined(separator: ", "))")
            }
            let query = ListVideos(
                ownerId: request.query("owner"), status: status, limit: try request.intQuery("limit", in: 1...100),
                after: request.query("after"))
            return JSONBodies.response(.ok, try await self.videos.call(VideoMethods.list, query, context))
        }
        table.add(.post, "/v1/videos/{id}/views", RouteTable.upstream.union([202, 413, 415]), access: .anyPrincipal) {
            request, context in
            let videoID = try context.parameters.require("id")
            let view = try await JSONBodies.decode(ViewRequest.self, request, limit: limit)
            try Self.checkID(view.userId, field: "userId")
            try Self.checkID(videoID, field: "videoId")
            try context.requireActing(for: view.userId, field: "userId")
            if let seconds = view.secondsWatched, seconds < 0 {
                throw Problem.invalid("secondsWatched", "secondsWatched: must not be negative")
            }
            let event = VideoWatched(
                userId: view.userId, videoId: videoID, watchedAtMs: view.watchedAtMs ?? ProfilesService.systemClock(),
                secondsWatched: view.secondsWatched)
            let eventID = RandomUUID.string()
            let seq = try await self.events.publish(
                topic: ProfileTopics.videoWatched, event, schema: ProfileTopics.schema, eventID: eventID, context)
            return try JSONBodies.response(.accepted, ViewAccepted(eventId: eventID, seq: seq))
        }
    }

    /// An id as events.md §1 has them: 1–128 bytes, no white space or control characters.
    static func checkID(_ id: String, field: String) throws(Problem) {
        do {
            _ = try ProfileRules.id(id, field: field)
        } catch {
            throw .invalid(field, error.message)
        }
    }
}

/// The body of `POST /v1/videos/{id}/views`.
struct ViewRequest: Codable, Sendable {
    var userId: String
    /// When the user watched (ms since the epoch); default: now.
    var watchedAtMs: Int64?
    var secondsWatched: Int64?
}

/// The answer of `POST /v1/videos/{id}/views`: the event's id and its seq in the journal.
struct ViewAccepted: Codable, Sendable {
    var eventId: String
    var seq: UInt64
}
