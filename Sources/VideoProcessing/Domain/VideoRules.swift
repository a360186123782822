/// The rules an upload's fields obey, as pure functions that return the value to
/// store or throw `VideoError.invalid` naming the field. Every upload form goes
/// through `VideoRules.upload`, so a stored video always satisfies them.
public enum VideoRules {
    public static let maxTitleCharacters = 200
    public static let maxTags = 20
    public static let maxTagCharacters = 32
    public static let maxIdBytes = 128
    public static let maxContentTypeBytes = 127
    /// What `contentType` is when the caller does not say.
    public static let defaultContentType = "application/octet-stream"

    /// The validated owner, title, tags and content type of an upload.
    public static func upload(ownerId: String, title: String, tags: [String]?, contentType: String?) throws(VideoError)
        -> (ownerId: String, title: String, tags: [String], contentType: String)
    {
        (
            try id(ownerId, field: "ownerId"), try self.title(title), try self.tags(tags ?? []),
            try self.contentType(contentType)
        )
    }

    /// 1–200 characters after trimming white space, no control characters.
    public static func title(_ raw: String) throws(VideoError) -> String {
        let title = raw.trimmingWhitespace
        guard !title.isEmpty, title.count <= maxTitleCharacters else {
            throw .invalid("title", "must be 1–\(maxTitleCharacters) characters")
        }
        guard !title.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw .invalid("title", "must not contain control characters")
        }
        return title
    }

    /// At most 20 tags, each 1–32 letters, digits, `-` or `_` after trimming and
    /// lower-casing; repeats dropped, first occurrence's order kept (as profiles' tags).
    public static func tags(_ raw: [String]) throws(VideoError) -> [String] {
        var seen = Set<String>()
        var tags: [String] = []
        for item in raw {
            let tag = item.trimmingWhitespace.lowercased()
            guard !tag.isEmpty, tag.count <= maxTagCharacters else {
                throw .invalid("tags", "each tag is 1–\(maxTagCharacters) characters")
            }
            guard
                tag.unicodeScalars.allSatisfy({
                    $0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "-" || $0 == "_"
                })
            else { throw .invalid("tags", "a tag is letters, digits, - and _ only") }
            if seen.insert(tag).inserted { tags.append(tag) }
        }
        guard tags.count <= maxTags else { throw .invalid("tags", "at most \(maxTags) tags") }
        return tags
    }

    /// `type/subtype` of printable ASCII without spaces, at most 127 bytes; absent: the default.
    public static func contentType(_ raw: String?) throws(VideoError) -> String {
        guard let raw else { return defaultContentType }
        let parts = raw.split(separator: "/", omittingEmptySubsequences: false)
        guard raw.utf8.count <= maxContentTypeBytes, parts.count == 2, parts.allSatisfy({ !$0.isEmpty }),
            raw.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F })
        else { throw .invalid("contentType", "must be type/subtype, printable ASCII, at most 127 bytes") }
        return raw
    }

    /// A video, owner or upload id: 1–128 bytes, no white space or control characters.
    public static func id(_ raw: String, field: String) throws(VideoError) -> String {
        guard !raw.isEmpty, raw.utf8.count <= maxIdBytes else { throw .invalid(field, "must be 1–\(maxIdBytes) bytes") }
        guard
            !raw.unicodeScalars.contains(where: {
                $0.properties.generalCategory == .control || $0.properties.isWhitespace
            })
        else { throw .invalid(field, "must not contain white space or control characters") }
        return raw
    }
}

extension String {
    /// Without leading and trailing white space (Unicode's White_Space).
    var trimmingWhitespace: String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
            let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return "" }
        return String(scalars[first...last])
    }
}
