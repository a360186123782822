import Foundation

/// One rating of a MovieLens-format file: who, what, how much (1–5 stars, or
/// any positive number), when (seconds since the epoch).
public struct Interaction: Hashable, Sendable {
    public var user: String
    public var item: String
    public var rating: Double
    public var timestamp: Int64

    public init(user: String, item: String, rating: Double, timestamp: Int64) {
        self.user = user
        self.item = item
        self.rating = rating
        self.timestamp = timestamp
    }
}

/// Reads the two MovieLens formats: `user::item::rating::timestamp` lines
/// (ML-1M `ratings.dat`), or CSV with the header `userId,movieId,rating,timestamp`
/// (ML-latest `ratings.csv`). Blank lines are skipped; anything else that does
/// not parse is an error naming the line.
public enum InteractionFile {
    public struct ParseError: Error, CustomStringConvertible, Sendable {
        public let line: Int
        public let text: String
        public var description: String { "line \(line): cannot read \"\(text.prefix(80))\"" }
    }

    public static func parse(_ text: String) throws(ParseError) -> [Interaction] {
        var result: [Interaction] = []
        var csv = false
        // `\r\n` is one Character in Swift: split on both kinds of line end.
        for (index, line) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            if line.isEmpty { continue }
            if index == 0 && line.hasPrefix("userId,") {
                guard line == "userId,movieId,rating,timestamp" else { throw ParseError(line: 1, text: String(line)) }
                csv = true
                continue
            }
            let fields =
                csv
                ? line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
                : String(line).components(separatedBy: "::")
            guard fields.count == 4, !fields[0].isEmpty, !fields[1].isEmpty, let rating = Double(fields[2]),
                rating.isFinite, rating > 0, let timestamp = Int64(fields[3]), timestamp >= 0
            else { throw ParseError(line: index + 1, text: String(line)) }
            result.append(Interaction(user: fields[0], item: fields[1], rating: rating, timestamp: timestamp))
        }
        return result
    }

    /// CSV with the header, as `parse` reads it back.
    public static func csv(_ interactions: [Interaction]) -> String {
        var text = "userId,movieId,rating,timestamp\n"
        for i in interactions {
            let rating = i.rating == i.rating.rounded() ? String(Int(i.rating)) : String(i.rating)
            text += "\(i.user),\(i.item),\(rating),\(i.timestamp)\n"
        }
        return text
    }
}
