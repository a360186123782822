import Foundation
import MetroKit
public import MetroRuntime

/// The bookmarks service: what `ServiceRuntime` runs. Everything else (the rpc
/// socket, registration, consumer groups, inbox, outbox, shutdown) is the runtime's.
public enum BookmarksService {
    public static func definition() -> ServiceDefinition {
        var service = ServiceDefinition(name: "bookmarks")
        service.migrations { BookmarksStore.register(in: &$0) }

        // rpc: a write and the event it publishes commit together (the outbox).
        service.rpc(BookmarksAPI.add) { request, context, store in
            guard !request.userId.isEmpty, !request.videoId.isEmpty else {
                throw RpcError.badRequest("userId and videoId must not be empty")
            }
            return try await store.write(context) { tx in
                let (bookmark, isNew) = try BookmarksStore.add(request, nowMs: nowMs(), in: tx.db)
                if isNew {
                    try tx.publish(
                        topic: "bookmark.added", event: BookmarkAdded(userId: request.userId, videoId: request.videoId))
                }
                return bookmark
            }
        }
        service.rpc(BookmarksAPI.list) { request, _, store in
            BookmarkList(bookmarks: try await store.read { try BookmarksStore.list(userId: request.userId, in: $0) })
        }

        // Events: each video.watched once per group "bookmarks"; the effect and
        // the event id commit in one transaction (the inbox), then the ACK.
        service.on(group: "bookmarks", topics: ["video.watched"], as: VideoWatched.self) { event, context in
            guard !event.payload.videoId.isEmpty else { throw EventRejection("videoId is empty") }
            try await context.commit { tx in try BookmarksStore.countView(of: event.payload.videoId, in: tx.db) }
        }
        return service
    }

    static func nowMs() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)) }
}
