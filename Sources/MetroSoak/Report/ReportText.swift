import Foundation

/// Escaping and number formats the renderings share. Every string that comes from
/// the run (event ids, error texts, fault details, process names) goes through
/// `html` or `markdown` before it is written into a page.
enum ReportText {
    /// Text for an HTML element or a quoted attribute: `& < > " '` as entities, so no
    /// id or error text can open a tag, end an attribute or start an entity.
    static func html(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text.unicodeScalars {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default:
                // Control characters other than tab and newline have no place in a page.
                if character.value < 0x20 && character != "\t" && character != "\n" {
                    out += "\u{FFFD}"
                } else {
                    out.unicodeScalars.append(character)
                }
            }
        }
        return out
    }

    /// Text for a Markdown table cell or line: punctuation that Markdown or raw HTML
    /// would read as syntax is backslash-escaped (CommonMark shows `\<` as `<`), and a
    /// line break becomes a space so a cell cannot end its row.
    static func markdown(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "\\", "`", "*", "_", "[", "]", "<", ">", "|", "&": out += "\\\(character)"
            case "\n", "\r", "\r\n": out += " "
            default: out.append(character)
            }
        }
        return out
    }

    /// Text for a terminal: control characters (an escape sequence in an error text)
    /// become U+FFFD.
    static func plain(_ text: String) -> String {
        String(
            String.UnicodeScalarView(text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "\u{FFFD}" : $0 }))
    }

    /// An id in Markdown: a code span when it is plain (letters, digits, `-._:/`), else escaped text.
    static func markdownId(_ id: String) -> String {
        let plain =
            !id.isEmpty
            && id.unicodeScalars.allSatisfy {
                CharacterSet.alphanumerics.contains($0) || "-._:/".unicodeScalars.contains($0)
            }
        return plain && id.unicodeScalars.allSatisfy(\.isASCII) ? "`\(id)`" : markdown(id)
    }

    /// Milliseconds with three significant-ish digits: `0.412`, `4.20`, `41.2`, `412`, `4120`.
    static func ms(_ value: Double) -> String {
        switch abs(value) {
        case ..<1: String(format: "%.3f", value)
        case ..<10: String(format: "%.2f", value)
        case ..<100: String(format: "%.1f", value)
        default: String(format: "%.0f", value)
        }
    }

    static func seconds(_ value: Double) -> String { String(format: "%.1f s", value) }

    static func fixed(_ value: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", value) }

    /// `+1.2 MiB (+3.4%)`
    static func growth(_ growth: RssGrowth) -> String {
        String(format: "%+.1f MiB (%+.1f%%)", growth.growthMiB, growth.growthPercent)
    }

    /// How a fault's recovery reads: `1.8 s` or `never`.
    static func recovery(_ fault: FaultEntry) -> String {
        fault.recoverySeconds.map(seconds) ?? "never"
    }

    /// The first offending ids of a verdict, with "… (N in all)" when there are more.
    static func offenders(_ verdict: InvariantVerdict, limit: Int, render: (String) -> String) -> String {
        guard !verdict.offending.isEmpty else {
            return verdict.offendingCount > 0 ? "\(verdict.offendingCount) in all" : ""
        }
        var text = verdict.offending.prefix(limit).map(render).joined(separator: ", ")
        if verdict.offendingCount > min(limit, verdict.offending.count) {
            text += " … (\(verdict.offendingCount) in all)"
        }
        return text
    }
}
