import Foundation
public import MetroRuntime

/// The profiles service on the runtime (MetroRuntime): its tables, its rpc methods and
/// the `video.watched` handler. `metro worker profiles` runs it.
///
/// Every write is one transaction: a user change and the `profile.*` event it
/// publishes (an outbox row) commit together, so the event goes out if and only
/// if the change is stored; a history entry and the inbox row of its event
/// likewise, so a redelivered `video.watched` adds nothing.
public enum ProfilesService {
    /// Milliseconds since the Unix epoch, now.
    public static let systemClock: @Sendable () -> Int64 = {
        Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
    }

    /// The service as the runtime runs it. `clock` gives "now" for created and
    /// updated times.
    public static func definition(clock: @escaping @Sendable () -> Int64 = systemClock) -> ServiceDefinition {
        var service = ServiceDefinition(name: Profiles.serviceName)
        service.migrations { ProfilesSchema.register(in: &$0) }
        registerRpc(on: &service, clock: clock)
        service.on(
            group: Profiles.group, topics: [ProfileTopics.videoWatched], as: VideoWatched.self,
            schema: ProfileTopics.schemaMajor, handleWatched)
        return service
    }

    /// `video.watched` → one history entry per event id. A payload that breaks
    /// the rules or names an unknown user is rejected (dead-lettered with the
    /// reason): retrying cannot make it right. Errors of the disk are retried.
    @Sendable static func handleWatched(_ event: IncomingEvent<VideoWatched>, _ context: EventContext) async throws {
        // A prefix subscription: `video.watchedX` is another topic.
        guard event.topic == ProfileTopics.videoWatched else { return }
        do {
            try await context.commit { tx in
                try HistoryStore.record(event.payload, eventId: event.id, in: tx.db)
            }
        } catch let error as ProfileError {
            throw EventRejection(error.message)
        }
    }
}
