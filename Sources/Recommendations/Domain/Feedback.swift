import Foundation

/// Implicit feedback: how much a user's views of a video say about the user.
///
/// The strength of (user, video) is the share of the video the user watched in
/// total, capped at 1, as integer micro-units (1 = 1_000_000): integers, so that
/// the co-occurrence sums built from them are exact and do not depend on the
/// order in which views arrive. It needs the video's duration, so a view of a
/// video not yet in the catalogue has strength 0 until `video.processed` comes;
/// then it is recomputed from the stored sums.
public enum Feedback {
    /// A full view.
    public static let full: Int64 = 1_000_000

    /// `min(1, secondsSum / duration + viewsWithoutSeconds · unknownShare)` in
    /// micro-units; 0 for a video of unknown duration (not catalogued). A video
    /// whose duration is 0 (a still) counts any view as full.
    public static func strength(
        secondsSum: Int64, viewsWithoutSeconds: Int64, durationMs: Int64?, parameters: ModelParameters = .standard
    ) -> Int64 {
        guard let durationMs else { return 0 }
        guard durationMs > 0 else { return secondsSum > 0 || viewsWithoutSeconds > 0 ? full : 0 }
        let unknown = viewsWithoutSeconds.multipliedReportingOverflow(by: parameters.unknownShareMicro)
        if unknown.overflow || unknown.partialValue >= full { return full }
        // secondsSum · 1000 ≥ durationMs already means a full share; checked first so
        // that the products below stay far from Int64's range.
        let watchedMs = secondsSum.multipliedReportingOverflow(by: 1000)
        if watchedMs.overflow || watchedMs.partialValue >= durationMs { return full }
        let share = watchedMs.partialValue * full / durationMs
        return min(full, share + unknown.partialValue)
    }

    /// A video's duration in whole milliseconds from `video.processed`'s seconds.
    public static func durationMs(seconds: Double) -> Int64 {
        guard seconds.isFinite, seconds > 0 else { return 0 }
        return Int64(min(seconds * 1000, 1e15).rounded())
    }

    /// One view's popularity term, `exp((watchedAtMs − epoch) / tau)`.
    public static func popularityTerm(watchedAtMs: Int64, parameters: ModelParameters = .standard) -> Double {
        exp(Double(watchedAtMs - parameters.popularityEpochMs) / parameters.popularityTauMs)
    }
}
