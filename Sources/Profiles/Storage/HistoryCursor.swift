/// Where a history page ended: the last entry's watch time and arrival `seq`.
/// The next page starts strictly after it in "newest first" order, so entries
/// added meanwhile never shift a page (unlike an offset). On the wire it is the
/// text `<watchedAtMs>.<seq>`, opaque to callers; anything else is refused.
public struct HistoryCursor: Hashable, Sendable {
    public var watchedAtMs: Int64
    public var seq: Int64

    public init(watchedAtMs: Int64, seq: Int64) {
        self.watchedAtMs = watchedAtMs
        self.seq = seq
    }

    public var text: String { "\(watchedAtMs).\(seq)" }

    /// Reads a cursor made by `text`; throws `ProfileError.invalid("cursor")`.
    public init(text: String) throws(ProfileError) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let watchedAt = Self.number(parts[0]), let seq = Self.number(parts[1]) else {
            throw .invalid("cursor", "not a cursor this service made")
        }
        self.init(watchedAtMs: watchedAt, seq: seq)
    }

    /// Plain decimal digits only (no sign, no spaces), fitting in Int64.
    private static func number(_ s: Substring) -> Int64? {
        guard !s.isEmpty, s.utf8.count <= 19, s.utf8.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
        return Int64(s)
    }
}
