/// A `Range: bytes=…` request header (RFC 9110 §14.1.2), one range: `a-b`, `a-`
/// or the suffix `-n`. Pure: parsing needs no size, resolving needs the
/// representation's length.
///
/// What the media routes do with it: no header, or one they do not take (another
/// unit, several ranges, bad syntax), is the whole body with 200 (RFC 9110 lets a
/// server ignore a Range it does not support); a range that selects nothing
/// (its first byte at or past the end, or a suffix of 0) is 416.
enum ByteRange: Equatable, Sendable {
    /// `bytes=first-last`, or `bytes=first-` (last nil: to the end).
    case from(first: Int64, last: Int64?)
    /// `bytes=-count`: the last `count` bytes.
    case suffix(Int64)

    /// The range of a `Range` header's value; nil when there is none to honour.
    static func parse(_ header: String?) -> ByteRange? {
        guard let header, header.hasPrefix("bytes=") else { return nil }
        let spec = header.dropFirst("bytes=".count).trimmingWhitespace()
        guard !spec.contains(","), let dash = spec.firstIndex(of: "-") else { return nil }
        let left = spec[..<dash]
        let right = spec[spec.index(after: dash)...]
        func number(_ s: Substring) -> Int64? {
            guard !s.isEmpty, s.utf8.count <= 18, s.utf8.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
            return Int64(s)
        }
        if left.isEmpty {
            return number(right).map { .suffix($0) }
        }
        guard let first = number(left) else { return nil }
        if right.isEmpty { return .from(first: first, last: nil) }
        guard let last = number(right), last >= first else { return nil }
        return .from(first: first, last: last)
    }

    /// The bytes it selects of a body of `total` bytes, as first...last; nil when
    /// it selects none (416).
    func resolve(total: Int64) -> ClosedRange<Int64>? {
        switch self {
        case .from(let first, let last):
            guard first < total else { return nil }
            return first...min(last ?? (total - 1), total - 1)
        case .suffix(let count):
            guard count > 0, total > 0 else { return nil }
            return max(0, total - count)...(total - 1)
        }
    }
}

extension Substring {
    fileprivate func trimmingWhitespace() -> Substring {
        var s = self
        while s.first == " " || s.first == "\t" { s = s.dropFirst() }
        while s.last == " " || s.last == "\t" { s = s.dropLast() }
        return s
    }
}
