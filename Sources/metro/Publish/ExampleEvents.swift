import Foundation

/// Realistic random payloads for every topic of `EventCatalogue` (`metro publish
/// --example`): names, titles, tags, codecs and sizes as a video site would
/// see them, ids as the services make them, times around now. Each call makes a
/// new one; `seed` makes a sequence repeatable. A view names a user and a video
/// of `grounding` (the running system's, `ExampleGrounding`) when it has some,
/// made-up ones otherwise.
struct ExampleEvents {
    private var random: SplitMix
    let grounding: ExampleGrounding

    init(seed: UInt64? = nil, grounding: ExampleGrounding = ExampleGrounding()) {
        random = SplitMix(seed: seed ?? UInt64.random(in: 0...UInt64.max))
        self.grounding = grounding
    }

    static let firstNames = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken", "Margaret", "Linus", "Radia", "Tim"]
    static let lastNames = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Thompson", "Hamilton", "Perlman"]
    static let words = [
        "Lighthouse", "Night", "Train", "River", "Kitchen", "Mountain", "Robot", "Garden", "Jazz", "Storm", "City",
        "Harbour", "Desert", "Winter", "Coffee", "Tutorial",
    ]
    static let tagPool = [
        "jazz", "sci-fi", "drama", "documentary", "cooking", "travel", "music", "comedy", "nature", "tech", "sports",
    ]
    static let failures = [
        "unsupported codec", "no video stream", "truncated upload", "processing timed out after 120000 ms",
    ]

    mutating func payload(for topic: String) -> JSONValue? {
        switch topic {
        case "profile.created": return .object(["user": user(version: 1)])
        case "profile.updated":
            let changed = Array(["displayName", "email", "favouriteTags"].shuffled(using: &random).prefix(pick(1...3)))
            return .object(["user": user(version: Int64(pick(2...9))), "changed": .array(changed.map { .string($0) })])
        case "video.watched":
            return .object([
                "userId": .string(known(grounding.users) ?? uuid()),
                "videoId": .string(known(grounding.videos) ?? videoID()),
                "watchedAtMs": .integer(nowMs() - Int64(pick(0...60_000))),
                "secondsWatched": .integer(Int64(pick(5...3600))),
            ])
        case "video.uploaded":
            return .object(
                video().merging([
                    "contentType": .string(["video/mp4", "video/webm", "video/quicktime"][pick(0...2)]),
                    "sizeBytes": .integer(Int64(pick(200_000...900_000_000))), "sourceBlobId": .string(blobID()),
                    "uploadedAtMs": .integer(nowMs()),
                ]) { a, _ in a })
        case "video.processed":
            let (w, h) = [(1920, 1080), (1280, 720), (854, 480), (320, 240)][pick(0...3)]
            let media: [String: JSONValue] = [
                "durationSeconds": .number(Double(pick(2_000...5_400_000)) / 1000), "width": .integer(Int64(w)),
                "height": .integer(Int64(h)), "videoCodec": .string(["h264", "vp9", "hevc"][pick(0...2)]),
                "audioCodec": .string("aac"), "bitRate": .integer(Int64(pick(300_000...8_000_000))),
                "frameRate": .number([24, 25, 29.97, 30, 60][pick(0...4)]),
            ]
            return .object(
                video().merging([
                    "media": .object(media), "sourceBlobId": .string(blobID()), "thumbnailBlobId": .string(blobID()),
                    "previewBlobId": .string(blobID()), "processedAtMs": .integer(nowMs()),
                ]) { a, _ in a })
        case "video.failed":
            return .object([
                "videoId": .string(videoID()), "ownerId": .string(uuid()),
                "reason": .string(Self.failures[pick(0...(Self.failures.count - 1))]), "failedAtMs": .integer(nowMs()),
            ])
        default: return nil
        }
    }

    private mutating func user(version: Int64) -> JSONValue {
        let first = Self.firstNames[pick(0...(Self.firstNames.count - 1))]
        let last = Self.lastNames[pick(0...(Self.lastNames.count - 1))]
        let created = nowMs() - Int64(pick(0...86_400_000))
        return .object([
            "id": .string(uuid()), "displayName": .string("\(first) \(last)"),
            "email": .string("\(first.lowercased()).\(last.lowercased())\(pick(1...999))@example.com"),
            "favouriteTags": .array(tags()), "createdAtMs": .integer(created),
            "updatedAtMs": .integer(version == 1 ? created : nowMs()), "version": .integer(version),
        ])
    }

    private mutating func video() -> [String: JSONValue] {
        let title = (0..<pick(1...3)).map { _ in Self.words[pick(0...(Self.words.count - 1))] }.joined(separator: " ")
        return [
            "videoId": .string(videoID()), "ownerId": .string(uuid()), "title": .string(title), "tags": .array(tags()),
        ]
    }

    private mutating func tags() -> [JSONValue] {
        Array(Self.tagPool.shuffled(using: &random).prefix(pick(0...3))).map { .string($0) }
    }

    private mutating func pick(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &random) }
    private mutating func known(_ ids: [String]) -> String? { ids.isEmpty ? nil : ids[pick(0...(ids.count - 1))] }
    private func nowMs() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
    private mutating func videoID() -> String { "v-\(pick(1000...999_999))" }

    private mutating func uuid() -> String {
        var bytes = (0..<16).map { _ in UInt8.random(in: 0...255, using: &random) }
        bytes[6] = bytes[6] & 0x0F | 0x40
        bytes[8] = bytes[8] & 0x3F | 0x80
        let hex = bytes.map { String(format: "%02x", $0) }.joined()
        let parts = [0..<8, 8..<12, 12..<16, 16..<20, 20..<32].map { r in
            String(
                hex[
                    hex.index(
                        hex.startIndex, offsetBy: r.lowerBound)..<hex.index(hex.startIndex, offsetBy: r.upperBound)])
        }
        return parts.joined(separator: "-")
    }

    private mutating func blobID() -> String {
        (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &random)) }.joined()
    }
}

/// A small seedable generator (SplitMix64), so `--seed` repeats a run's payloads.
struct SplitMix: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
