/// The model's constants: the blend's weights, the popularity decay and the
/// bounds that make a request's cost independent of the catalogue's size.
/// A live instance and a rebuild must use the same values.
public struct ModelParameters: Hashable, Sendable {
    /// Weight of item-to-item similarity to the user's history.
    public var similarityWeight = 0.6
    /// Weight of tag affinity (favourite tags and tags of watched videos).
    public var tagWeight = 0.25
    /// Weight of recency-decayed popularity (normalised by the most popular video).
    public var popularityWeight = 0.15
    /// Popularity terms are `exp((watchedAtMs − epoch) / tau)`: relative to a
    /// fixed epoch, never to the wall clock, so a view's term is the same
    /// whenever it is applied. Only ratios are used (normalised by the maximum),
    /// so the epoch only bounds the range: Doubles hold ±700·tau around it
    /// (tau = 30 days: ±57 years).
    public var popularityEpochMs: Int64 = 1_767_225_600_000  // 2026-01-01T00:00:00Z
    /// The decay's time constant (30 days: a view a month old counts 1/e).
    public var popularityTauMs: Double = 30 * 86_400_000
    /// A view without `secondsWatched` counts as this share of the video.
    public var unknownShareMicro: Int64 = 500_000
    /// Two videos of a user co-occur (count in `dot`) when at most this many
    /// places apart in the order the user first watched them (`PairWindow`):
    /// what bounds a view's cost. Changing it needs a migration that rebuilds
    /// `reco_pairs` (`PairWindow.rebuild`), as `recommendations-2-pair-window` did.
    public var pairWindow = 20
    /// The user's most recent videos that similarity looks at.
    public var historyLimit = 30
    /// The strongest co-occurring videos read per history video.
    public var neighboursPerVideo = 30
    /// Popular candidates read overall and per affine tag.
    public var popularCandidates = 50
    /// Affine tags whose popular videos become candidates.
    public var candidateTags = 3

    public init() {}

    public static let standard = ModelParameters()
}
