/// What the services said at the end of the run, per user: the event ids in each
/// user's `profile.history` (with how often each appeared) and the per-video view
/// counts of `recommendations.seen`. A user whose answer could not be had carries
/// the error instead. Plain values, so the view invariants are pure functions.
public struct ServiceSnapshot: Sendable, Equatable {
    public enum Read<Value: Sendable & Equatable>: Sendable, Equatable {
        case value(Value)
        case failed(String)
    }

    /// By user: event id → occurrences in the whole history.
    public var histories: [String: Read<[String: Int]>]
    /// By user: video id → the model's view count.
    public var seen: [String: Read<[String: Int]>]

    public init(histories: [String: Read<[String: Int]>] = [:], seen: [String: Read<[String: Int]>] = [:]) {
        self.histories = histories
        self.seen = seen
    }
}
