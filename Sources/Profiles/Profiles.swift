/// The profiles service's domain and storage (issue 14 §3, design.md "The story").
///
/// What it holds: users (display name, an email unique case-insensitively,
/// favourite tags, a version for optimistic concurrency) and each user's watch
/// history, fed by `video.watched` events. What it is not: a process. The
/// service runtime (`MetroRuntime`) wraps these functions in rpc handlers and
/// event handlers; `metro worker profiles` runs it.
///
/// Storage is free functions over GRDB's `Database` (`UserStore`, `HistoryStore`),
/// never a connection of their own: they run inside the write transaction the
/// runtime opens, so an effect, the inbox row of the event that caused it and
/// the outbox rows it publishes commit together or not at all. Time and ids come
/// in as arguments, so the rules are tested without a clock.
///
/// The domain imports neither ZeroMQ nor the runtime; its errors are
/// `ProfileError` values that the service maps to rpc codes in one place.
public enum Profiles {
    /// The service's name in the registry and its data folder.
    public static let serviceName = "profiles"
    /// The consumer group its `video.watched` handler joins.
    public static let group = "profiles"
}
