/// The profiles service's domain and storage (issue 14 §3).
///
/// What it holds: users (display name, an email unique case-insensitively,
/// favourite tags, a version for optimistic concurrency) and each user's watch
/// history, fed by `video.watched` events. `Domain/`, `Storage/` and `Events/`
/// are the rules and the tables, with no I/O of their own; `Service/` puts them
/// on the service runtime (`ProfilesService.definition()`: rpc handlers and the
/// event handler) and names the methods for callers (`ProfilesAPI`).
/// `metro worker profiles` runs it.
///
/// Storage is free functions over GRDB's `Database` (`UserStore`, `HistoryStore`),
/// never a connection of their own: they run inside the write transaction the
/// runtime opens, so an effect, the inbox row of the event that caused it and
/// the outbox rows it publishes commit together or not at all. Time and ids come
/// in as arguments, so the rules are tested without a clock.
///
/// The domain imports neither ZeroMQ nor the runtime; its errors are
/// `ProfileError` values that `ProfilesService.answering` maps to rpc codes, and
/// the event handler to dead-letter rejections.
public enum Profiles {
    /// The service's name in the registry and its data folder.
    public static let serviceName = "profiles"
    /// The consumer group its `video.watched` handler joins.
    public static let group = "profiles"
}
