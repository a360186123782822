/// The recommendations service (issue 15): which videos to show a user next.
///
/// What it holds: the catalogue (`video.processed`), every view (`video.watched`)
/// and each user's favourite tags (`profile.created|updated`), and from them an
/// item-to-item model kept up to date per event: the strength of each
/// (user, video) pair, the dot product of every two videos' strength vectors,
/// each video's norm and recency-decayed popularity. `recommendations.get`
/// blends cosine similarity to what the user watched, tag affinity and
/// popularity (docs/services.md, "The recommendations model").
///
/// `Domain/` holds the formulas as pure functions (no I/O, no clock);
/// `Storage/` keeps the model's state in SQLite, updated inside the runtime's
/// transaction with the inbox row of the event; `Events/` reads the four
/// consumed topics; `Service/` puts it on the runtime
/// (`RecommendationsService.definition()`) and names the methods for callers
/// (`RecommendationsAPI`). `metro worker recommendations` runs it.
///
/// The state is a function of the *set* of events, not of their order: sums of
/// integers, maxima, and "highest version wins" (see `ModelUpdate`), so the live
/// service (concurrent, redelivered) and `--rebuild` (journal order) agree.
public enum Recommendations {
    /// The service's name in the registry and its data folder.
    public static let serviceName = "recommendations"
    /// The consumer group of its event handler.
    public static let group = "recommendations"
}
