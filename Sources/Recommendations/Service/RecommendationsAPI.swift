public import MetroKit

/// The recommendations service's rpc methods, shared by the service and its
/// callers (the gateway, the soak checker, tests). All three only read.
public enum RecommendationsAPI {
    /// `{userId, limit?}` → `{userId, items: [{videoId, title, score, reason}]}`.
    public static let get = RpcMethod<GetRecommendationsRequest, RecommendationList>(
        "recommendations.get", idempotent: true)
    /// `{}` → counts of what the model holds.
    public static let stats = RpcMethod<StatsRequest, ModelStats>("recommendations.stats", idempotent: true)
    /// `{userId}` → `{userId, views: [{videoId, count}]}`.
    public static let seen = RpcMethod<SeenRequest, SeenList>("recommendations.seen", idempotent: true)
}
