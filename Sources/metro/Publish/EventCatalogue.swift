/// The topics of docs/events.md §3 with their payload schemas (version 1.0), for
/// `metro publish`: the profile events and `video.watched` as events.md gives
/// them, and the video events in the shapes the video-processing service
/// publishes (issue 15). A topic that is not here is published only with `--raw`.
enum EventCatalogue {
    static let id = EventSchema.string(minLength: 1, maxLength: 128)
    static let time = EventSchema.integer(minimum: 0)
    static let blobID = EventSchema.string(minLength: 64, maxLength: 64)
    static let tags = EventSchema.array(of: .string(minLength: 1, maxLength: 32), maxItems: 20, uniqueItems: true)

    static let user = EventSchema.object(required: [
        "id": id,
        "displayName": .string(minLength: 1, maxLength: 80),
        "email": .string(maxLength: 254),
        "favouriteTags": tags,
        "createdAtMs": time,
        "updatedAtMs": time,
        "version": .integer(minimum: 1),
    ])

    static let media = EventSchema.object(
        required: [
            "durationSeconds": .number(minimum: 0), "width": .integer(minimum: 0), "height": .integer(minimum: 0),
            "videoCodec": .string(minLength: 1), "bitRate": .integer(minimum: 0), "frameRate": .number(minimum: 0),
        ],
        optional: ["audioCodec": .string(minLength: 1)])

    static let schemas: [String: EventSchema] = [
        "profile.created": .object(required: ["user": user]),
        "profile.updated": .object(required: [
            "user": user,
            "changed": .array(
                of: .oneOf(["displayName", "email", "favouriteTags"]), minItems: 1, uniqueItems: true),
        ]),
        "video.watched": .object(
            required: ["userId": id, "videoId": id, "watchedAtMs": time],
            optional: ["secondsWatched": .integer(minimum: 0)]),
        "video.uploaded": .object(required: [
            "videoId": id, "ownerId": id, "title": .string(minLength: 1), "tags": tags,
            "contentType": .string(minLength: 1), "sizeBytes": .integer(minimum: 0), "sourceBlobId": blobID,
            "uploadedAtMs": time,
        ]),
        "video.processed": .object(
            required: [
                "videoId": id, "ownerId": id, "title": .string(minLength: 1), "tags": tags, "media": media,
                "sourceBlobId": blobID, "thumbnailBlobId": blobID, "previewBlobId": blobID, "processedAtMs": time,
            ],
            optional: ["synthetic": .boolean]),
        "video.failed": .object(required: [
            "videoId": id, "ownerId": id, "reason": .string(minLength: 1), "failedAtMs": time,
        ]),
    ]

    static var topics: [String] { schemas.keys.sorted() }
}
