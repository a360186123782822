import MetroProtocol

/// What `metro publish --example` knows of the running system, so that its test
/// events are ones the services can act on.
///
/// Made-up ids are not harmless: the profiles service dead-letters a view of a
/// user it does not hold ("no user …"), and the video workers a `video.uploaded`
/// that names no stored video. So `metro publish video.watched --example`, the
/// first command `metro up` suggests, once filled the dead-letter queue with one
/// entry (and two warning lines) per event on a fresh system.
///
/// The users and videos come from the journal, where the services announce them
/// (`profile.created` by profiles, `video.processed` by the video workers): the
/// broker is all `metro publish` talks to, and nothing is created behind the
/// user's back. Each topic's `advice` says, on stderr, what its examples will do
/// when the journal cannot ground them, and how to give the system what it lacks.
struct ExampleGrounding: Sendable {
    /// Users the profiles service holds (ids of `profile.created`), oldest first.
    var users: [String] = []
    /// Processed videos (ids of `video.processed`), oldest first.
    var videos: [String] = []

    /// Events of each topic read at most: a view needs some ids, not all of them.
    static let readLimit = 5_000

    /// The topics whose examples name users or videos that a consumer checks.
    static func needsGrounding(_ topic: String) -> Bool { topic == "video.watched" }

    /// Reads the ids the services announced from the journal behind `reader`.
    static func read(_ reader: JournalReader) async throws -> ExampleGrounding {
        let created = try await reader.events(prefixes: ["profile.created"], limit: readLimit)
        let processed = try await reader.events(prefixes: ["video.processed"], limit: readLimit)
        return ExampleGrounding(
            users: ids(created, topic: "profile.created", path: ["user", "id"]),
            videos: ids(processed, topic: "video.processed", path: ["videoId"]))
    }

    /// The string at `path` in each payload of `topic`, each once, in journal order;
    /// payloads without it (a `--raw` publish) are skipped.
    static func ids(_ events: [LiveEvent], topic: String, path: [String]) -> [String] {
        var seen = Set<String>()
        var out: [String] = []
        for event in events where event.topic == topic {
            guard var value = try? JSONValue.parse(event.payload) else { continue }
            for key in path {
                guard case .object(let members) = value, let next = members[key] else { break }
                value = next
            }
            if case .string(let id) = value, !id.isEmpty, seen.insert(id).inserted { out.append(id) }
        }
        return out
    }

    /// One stderr line on what `topic`'s examples will name and what they will do.
    func advice(for topic: String) -> String? {
        switch topic {
        case "video.watched":
            if users.isEmpty {
                return """
                    no user in the journal yet (no profile.created): these views name made-up users, and the \
                    profiles service dead-letters each ("no user"). Create a user first, e.g. \
                    \(Self.createUser), or pass --synthetic to mean made-up ids
                    """
            }
            if videos.isEmpty {
                return """
                    views of \(Self.count(users.count, "user")) of the journal; no video processed yet (no video.processed), so \
                    they name made-up videos, which recommendations counts but cannot show. Upload one, e.g. \
                    \(Self.uploadVideo)
                    """
            }
            return
                "views of \(Self.count(users.count, "user")) and \(Self.count(videos.count, "processed video")) of the journal"
        default:
            return Self.syntheticAdvice(for: topic)
        }
    }

    /// What a made-up event of `topic` does in a running system (nil: nothing to say).
    static func syntheticAdvice(for topic: String) -> String? {
        switch topic {
        case "video.watched":
            return "made-up users and videos (--synthetic): the profiles service dead-letters each view (\"no user\")"
        case "video.uploaded":
            return """
                an example video.uploaded names no stored video: the video workers dead-letter it ("no video") and \
                process nothing. To see a video processed, upload one, e.g. \(uploadVideo)
                """
        case "video.processed":
            return """
                an example video.processed announces a video that does not exist: recommendations catalogues it \
                and may recommend it
                """
        default:
            return nil
        }
    }

    static func count(_ n: Int, _ noun: String) -> String { n == 1 ? "1 \(noun)" : "\(n) \(noun)s" }

    static let createUser =
        #"curl -X POST http://127.0.0.1:8080/v1/users -H 'content-type: application/json' -d '{"email":"ada@example.com","displayName":"Ada"}'"#
    static let uploadVideo =
        "curl -X POST 'http://127.0.0.1:8080/v1/videos?owner=USER_ID&title=Hello' -H 'content-type: video/mp4' --data-binary @clip.mp4"
}
