import Foundation

/// Reads ffprobe's JSON (`-print_format json -show_format -show_streams`) into
/// `MediaInfo`: the first video stream's size, codec and frame rate, the first
/// audio stream's codec, the container's duration and bit rate. ffprobe prints
/// numbers of the container as strings ("2.000000"), frame rates as fractions
/// ("25/1"); a missing duration falls back to the video stream's.
public enum ProbeParser {
    public static func parse(_ json: [UInt8]) throws(MediaFailure) -> MediaInfo {
        let root: [String: Any]
        do {
            guard let object = try JSONSerialization.jsonObject(with: Data(json)) as? [String: Any] else {
                throw MediaFailure("ffprobe's output is not a JSON object")
            }
            root = object
        } catch let failure as MediaFailure {
            throw failure
        } catch {
            throw MediaFailure("ffprobe's output is not JSON")
        }
        let streams = root["streams"] as? [[String: Any]] ?? []
        let format = root["format"] as? [String: Any] ?? [:]
        guard let video = streams.first(where: { $0["codec_type"] as? String == "video" }) else {
            throw MediaFailure("no video stream")
        }
        guard let width = int(video["width"]), let height = int(video["height"]), width > 0, height > 0 else {
            throw MediaFailure("the video stream has no size")
        }
        guard let duration = double(format["duration"]) ?? double(video["duration"]), duration > 0 else {
            throw MediaFailure("no duration")
        }
        let audio = streams.first(where: { $0["codec_type"] as? String == "audio" })
        return MediaInfo(
            durationSeconds: duration, width: width, height: height,
            videoCodec: video["codec_name"] as? String ?? "unknown", audioCodec: audio?["codec_name"] as? String,
            bitRate: Int64(double(format["bit_rate"]) ?? 0),
            frameRate: rate(video["avg_frame_rate"]) ?? rate(video["r_frame_rate"]) ?? 0)
    }

    private static func int(_ value: Any?) -> Int? {
        (value as? NSNumber)?.intValue ?? (value as? String).flatMap { Int($0) }
    }

    private static func double(_ value: Any?) -> Double? {
        let d = (value as? NSNumber)?.doubleValue ?? (value as? String).flatMap { Double($0) }
        return d.flatMap { $0.isFinite ? $0 : nil }
    }

    /// "25/1" → 25; "0/0" (unknown) → nil.
    public static func rate(_ value: Any?) -> Double? {
        guard let text = value as? String else { return nil }
        let parts = text.split(separator: "/")
        guard parts.count == 2, let n = Double(parts[0]), let d = Double(parts[1]), d > 0, n > 0 else { return nil }
        return n / d
    }
}

/// Why a source cannot be processed: it becomes the video's `failureReason` and
/// `video.failed`'s `reason` (cut to `maxReasonBytes`). Retrying gives the same.
public struct MediaFailure: Error, Hashable, Sendable, CustomStringConvertible {
    public static let maxReasonBytes = 1024
    public let reason: String

    public init(_ reason: String) {
        var cut = Substring(reason.trimmingCharacters(in: .whitespacesAndNewlines))
        while cut.utf8.count > Self.maxReasonBytes { cut = cut.dropLast() }
        self.reason = cut.isEmpty ? "unknown failure" : String(cut)
    }

    public var description: String { reason }
}
