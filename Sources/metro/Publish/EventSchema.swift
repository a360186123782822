/// The part of JSON Schema that docs/events.md uses, as values: what `metro
/// publish` checks a payload against before it sends it (unless `--raw`). Each
/// topic's schema is in `EventCatalogue`, written by hand from events.md; a
/// system test publishes events.md's examples of the profile events and
/// `video.watched` through this check (the video events follow issue 15's shapes
/// until events.md §3.4–3.6 are final).
indirect enum EventSchema: Sendable {
    /// An object: these members required, those optional; others are allowed
    /// (events.md §1: readers ignore what they do not know).
    case object(required: [String: EventSchema], optional: [String: EventSchema] = [:])
    case string(minLength: Int = 0, maxLength: Int = .max)
    case integer(minimum: Int64 = .min)
    /// Any JSON number (an integer is a number too).
    case number(minimum: Double = -.infinity)
    case boolean
    /// One of these strings.
    case oneOf([String])
    case array(of: EventSchema, minItems: Int = 0, maxItems: Int = .max, uniqueItems: Bool = false)

    /// Every way `value` breaks the schema, each as `path: what` (empty: valid).
    func violations(of value: JSONValue, at path: String = "$") -> [String] {
        switch (self, value) {
        case (.object(let required, let optional), .object(let members)):
            var found: [String] = []
            for (name, schema) in required.sorted(by: { $0.key < $1.key }) {
                if let member = members[name] {
                    found += schema.violations(of: member, at: "\(path).\(name)")
                } else {
                    found.append("\(path).\(name): required, missing")
                }
            }
            for (name, schema) in optional.sorted(by: { $0.key < $1.key }) {
                if let member = members[name] { found += schema.violations(of: member, at: "\(path).\(name)") }
            }
            return found
        case (.string(let min, let max), .string(let s)):
            let n = s.utf8.count
            if n < min { return ["\(path): \(n) bytes, at least \(min) wanted"] }
            if n > max { return ["\(path): \(n) bytes, at most \(max) allowed"] }
            return []
        case (.integer(let min), .integer(let i)):
            return i < min ? ["\(path): \(i) is below the minimum \(min)"] : []
        case (.number(let min), .integer(let i)):
            return Double(i) < min ? ["\(path): \(i) is below the minimum \(min)"] : []
        case (.number(let min), .number(let d)):
            return d < min ? ["\(path): \(d) is below the minimum \(min)"] : []
        case (.boolean, .bool):
            return []
        case (.oneOf(let allowed), .string(let s)):
            return allowed.contains(s) ? [] : ["\(path): \"\(s)\" is not one of \(allowed.joined(separator: ", "))"]
        case (.array(let item, let min, let max, let unique), .array(let items)):
            var found: [String] = []
            if items.count < min { found.append("\(path): \(items.count) items, at least \(min) wanted") }
            if items.count > max { found.append("\(path): \(items.count) items, at most \(max) allowed") }
            if unique {
                for (i, x) in items.enumerated() where items[..<i].contains(x) {
                    found.append("\(path)[\(i)]: a repeat (the items must be unique)")
                }
            }
            for (i, x) in items.enumerated() { found += item.violations(of: x, at: "\(path)[\(i)]") }
            return found
        default:
            return ["\(path): \(value.kind), \(expected) wanted"]
        }
    }

    private var expected: String {
        switch self {
        case .object: "an object"
        case .string, .oneOf: "a string"
        case .integer: "an integer"
        case .number: "a number"
        case .boolean: "a boolean"
        case .array: "an array"
        }
    }
}
