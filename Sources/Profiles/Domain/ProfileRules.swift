/// The rules a profile's fields obey, as pure functions that return the value to
/// store (trimmed, normalised) or throw `ProfileError.invalid` naming the field.
/// Both `profile.create` and `profile.update` go through them, so a stored user
/// always satisfies them.
public enum ProfileRules {
    public static let maxDisplayNameCharacters = 80
    public static let maxEmailBytes = 254
    public static let maxTags = 20
    public static let maxTagCharacters = 32
    /// Ids of users and videos (chosen by the service or by other services).
    public static let maxIdBytes = 128

    /// 1–80 characters after trimming white space, no control characters.
    public static func displayName(_ raw: String) throws(ProfileError) -> String {
        let name = raw.trimmingWhitespace
        guard !name.isEmpty else { throw .invalid("displayName", "must not be empty") }
        guard name.count <= maxDisplayNameCharacters else {
            throw .invalid("displayName", "at most \(maxDisplayNameCharacters) characters")
        }
        guard !name.unicodeScalars.contains(where: \.isControl) else {
            throw .invalid("displayName", "must not contain control characters")
        }
        return name
    }

    /// A practical subset of RFC 5321 addresses: ASCII, `local@domain`, the local
    /// part 1–64 bytes of atext and non-adjacent inner dots, the domain at least
    /// two labels of letters, digits and inner hyphens. Kept as typed (trimmed);
    /// uniqueness compares `emailKey`, the lower-cased form.
    public static func email(_ raw: String) throws(ProfileError) -> String {
        let email = raw.trimmingWhitespace
        guard !email.isEmpty else { throw .invalid("email", "must not be empty") }
        guard email.utf8.count <= maxEmailBytes else { throw .invalid("email", "at most \(maxEmailBytes) bytes") }
        let parts = email.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2 else { throw .invalid("email", "must be local@domain") }
        guard isLocalPart(parts[0]) else { throw .invalid("email", "the part before @ is not valid") }
        guard isDomain(parts[1]) else { throw .invalid("email", "the domain is not valid") }
        return email
    }

    /// What uniqueness compares: two addresses that differ only in case are one.
    public static func emailKey(_ email: String) -> String { email.lowercased() }

    /// At most 20 tags, each 1–32 letters, digits, `-` or `_` after trimming and
    /// lower-casing; repeats are dropped, the first occurrence's order is kept.
    public static func tags(_ raw: [String]) throws(ProfileError) -> [String] {
        var seen = Set<String>()
        var tags: [String] = []
        for item in raw {
            let tag = item.trimmingWhitespace.lowercased()
            guard !tag.isEmpty, tag.count <= maxTagCharacters else {
                throw .invalid("favouriteTags", "each tag is 1–\(maxTagCharacters) characters")
            }
            guard tag.unicodeScalars.allSatisfy({ $0.properties.isAlphabetic || isDigit($0) || $0 == "-" || $0 == "_" })
            else { throw .invalid("favouriteTags", "a tag is letters, digits, - and _ only") }
            if seen.insert(tag).inserted { tags.append(tag) }
        }
        guard tags.count <= maxTags else { throw .invalid("favouriteTags", "at most \(maxTags) tags") }
        return tags
    }

    /// A user or video id: 1–128 bytes, no white space or control characters.
    public static func id(_ raw: String, field: String) throws(ProfileError) -> String {
        guard !raw.isEmpty, raw.utf8.count <= maxIdBytes else {
            throw .invalid(field, "must be 1–\(maxIdBytes) bytes")
        }
        guard !raw.unicodeScalars.contains(where: { $0.isControl || $0.properties.isWhitespace }) else {
            throw .invalid(field, "must not contain white space or control characters")
        }
        return raw
    }

    // MARK: - Email parts

    private static let atextSymbols = Set("!#$%&'*+-/=?^_`{|}~".unicodeScalars)

    private static func isLocalPart(_ part: Substring) -> Bool {
        guard (1...64).contains(part.utf8.count), part.first != ".", part.last != ".", !part.contains("..") else {
            return false
        }
        return part.unicodeScalars.allSatisfy { isASCIILetterOrDigit($0) || $0 == "." || atextSymbols.contains($0) }
    }

    private static func isDomain(_ part: Substring) -> Bool {
        let labels = part.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2 else { return false }
        return labels.allSatisfy { label in
            (1...63).contains(label.utf8.count) && label.first != "-" && label.last != "-"
                && label.unicodeScalars.allSatisfy { isASCIILetterOrDigit($0) || $0 == "-" }
        }
    }

    private static func isDigit(_ s: Unicode.Scalar) -> Bool { ("0"..."9").contains(s) }

    private static func isASCIILetterOrDigit(_ s: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(s) || ("A"..."Z").contains(s) || isDigit(s)
    }
}

extension Unicode.Scalar {
    fileprivate var isControl: Bool { properties.generalCategory == .control }
}

extension String {
    /// Without leading and trailing white space (Unicode's White_Space), no Foundation.
    var trimmingWhitespace: String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
            let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return "" }
        return String(scalars[first...last])
    }
}
