import MetroKit
public import MetroRuntime

/// The recommendations service on the runtime (MetroRuntime): its tables, its
/// three rpc methods and one event handler for the four consumed topics.
/// `metro worker recommendations` runs it.
///
/// Each event's model update commits in one transaction with its inbox row, so
/// a redelivered event changes nothing; the update itself is order-independent
/// (`ModelUpdate`), so concurrent handlers, redeliveries and a journal-order
/// rebuild reach the same state.
public enum RecommendationsService {
    public static let defaultLimit = 10
    public static let maxLimit = 100

    public static func definition(parameters: ModelParameters = .standard) -> ServiceDefinition {
        var service = ServiceDefinition(name: Recommendations.serviceName)
        service.migrations { ModelSchema.register(in: &$0) }
        service.rpc(RecommendationsAPI.get) { request, _, store in
            let userId = try checkedUser(request.userId)
            let limit = request.limit ?? defaultLimit
            guard (1...maxLimit).contains(limit) else { throw RpcError.badRequest("limit: must be 1–\(maxLimit)") }
            let items = try await store.read {
                try ModelQueries.recommendations(for: userId, limit: limit, parameters: parameters, in: $0)
            }
            return RecommendationList(userId: userId, items: items)
        }
        service.rpc(RecommendationsAPI.stats) { _, _, store in
            try await store.read { try ModelQueries.stats(in: $0) }
        }
        service.rpc(RecommendationsAPI.seen) { request, _, store in
            let userId = try checkedUser(request.userId)
            return SeenList(
                userId: userId, views: try await store.read { try ModelQueries.seen(userId: userId, in: $0) })
        }
        service.on(
            group: Recommendations.group, topics: RecommendationTopics.all, as: ConsumedPayload.self,
            schema: RecommendationTopics.schemaMajor
        ) { event, context in
            try await handle(event, context, parameters: parameters)
        }
        return service
    }

    /// One consumed event → one model update in the inbox's transaction. A
    /// payload that breaks the rules is rejected (dead-lettered with the reason).
    static func handle(
        _ event: IncomingEvent<ConsumedPayload>, _ context: EventContext, parameters: ModelParameters
    ) async throws {
        let update: ModelEvent?
        do {
            update = try EventReader.read(topic: event.topic, eventId: event.id, payload: event.payload)
        } catch {
            throw EventRejection("\(event.topic): \(error.description)")
        }
        guard let update else { return }  // another topic under a subscribed prefix
        try await context.commit { tx in try ModelUpdate.apply(update, parameters: parameters, in: tx.db) }
    }

    private static func checkedUser(_ raw: String) throws -> String {
        do { return try EventReader.id(raw, "userId") } catch { throw RpcError.badRequest(error.description) }
    }
}
